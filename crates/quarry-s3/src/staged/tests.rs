use object_store::ObjectStoreExt;
use object_store::memory::InMemory;

use super::*;

fn setup() -> (Arc<InMemory>, StagingStore, Arc<Staging>) {
    let inner = Arc::new(InMemory::new());
    let staging = Arc::new(Staging::default());
    let store = StagingStore::new(
        Arc::clone(&inner) as Arc<dyn ObjectStore>,
        Arc::clone(&staging),
    );
    (inner, store, staging)
}

async fn visible(store: &InMemory, path: &str) -> bool {
    store.head(&Path::from(path)).await.is_ok()
}

async fn write_in_parts(store: &StagingStore, path: &str) {
    let mut upload = store.put_multipart(&Path::from(path)).await.unwrap();
    upload.put_part(vec![1u8; 100].into()).await.unwrap();
    upload.put_part(vec![2u8; 100].into()).await.unwrap();
    upload.complete().await.unwrap();
}

#[tokio::test]
async fn writes_outside_a_statement_go_straight_through() {
    let (inner, store, _) = setup();
    store.put(&Path::from("a.csv"), "x".into()).await.unwrap();
    write_in_parts(&store, "b.parquet").await;
    assert!(visible(&inner, "a.csv").await);
    assert!(visible(&inner, "b.parquet").await);
}

#[tokio::test]
async fn a_statements_writes_appear_only_when_published() {
    let (inner, store, staging) = setup();
    let staged = StagedWrites::begin(&staging);
    store
        .put(&Path::from("out/small.csv"), "x".into())
        .await
        .unwrap();
    write_in_parts(&store, "out/big.parquet").await;
    assert!(!visible(&inner, "out/small.csv").await);
    assert!(!visible(&inner, "out/big.parquet").await);
    assert_eq!(staged.publish().await.unwrap(), 2);
    assert!(visible(&inner, "out/small.csv").await);
    let big = inner.get(&Path::from("out/big.parquet")).await.unwrap();
    assert_eq!(big.bytes().await.unwrap().len(), 200);
    // The scope ended with the statement: later writes are not staged.
    store
        .put(&Path::from("later.csv"), "y".into())
        .await
        .unwrap();
    assert!(visible(&inner, "later.csv").await);
}

#[tokio::test]
async fn a_failed_statement_leaves_nothing_behind() {
    let (inner, store, staging) = setup();
    let staged = StagedWrites::begin(&staging);
    store
        .put(&Path::from("out/small.csv"), "x".into())
        .await
        .unwrap();
    // The writer "completes" its file when its input ends early: it is
    // only noted, and discarded with the statement.
    write_in_parts(&store, "out/partial.parquet").await;
    let discarded = staged.discard().await;
    assert_eq!(
        discarded,
        Discarded {
            writes: 2,
            aborts_pending: 0
        }
    );
    assert!(!visible(&inner, "out/small.csv").await);
    assert!(!visible(&inner, "out/partial.parquet").await);
}

#[tokio::test]
async fn an_interrupted_statement_is_discarded_when_dropped() {
    let (inner, store, staging) = setup();
    let staged = StagedWrites::begin(&staging);
    write_in_parts(&store, "out/partial.parquet").await;
    drop(staged);
    assert!(staging.current().is_none());
    tokio::task::yield_now().await;
    assert!(!visible(&inner, "out/partial.parquet").await);
}

#[tokio::test]
async fn an_upload_the_writer_never_finished_is_aborted_even_on_success() {
    let (inner, store, staging) = setup();
    let staged = StagedWrites::begin(&staging);
    let mut upload = store
        .put_multipart(&Path::from("left.parquet"))
        .await
        .unwrap();
    upload.put_part(vec![1u8; 10].into()).await.unwrap();
    assert_eq!(staged.publish().await.unwrap(), 0);
    assert!(!visible(&inner, "left.parquet").await);
    // The writer's handle is dead: no part or completion reaches S3 now.
    assert!(upload.put_part(vec![1u8; 10].into()).await.is_err());
    assert!(upload.complete().await.is_err());
}
