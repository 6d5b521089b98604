// Generated from crates/quarry-s3/src/table_formats.rs; do not edit.
// `QUARRY_BLESS=1 cargo test -p quarry-s3 table_formats` rewrites it.

/** Name endings Quarry's SQL reads straight from an s3:// URL. */
export const TABLE_EXTENSIONS: readonly string[] = [
  '.csv.bz2',
  '.csv.zst',
  '.json.gz',
  '.csv.gz',
  '.csv.xz',
  '.parquet',
  '.arrow',
  '.json',
  '.csv',
];
