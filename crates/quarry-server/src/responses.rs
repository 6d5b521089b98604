//! Every JSON body the panel's REST API answers with, as Rust types. The
//! hand-written `openapi.json` (which the labextension's `api-types.ts` is
//! generated from, and schemathesis fuzzes against) is checked against
//! these types by the test below: every field a type can send is
//! documented, and every field the document requires is always sent.

use serde::Serialize;
use serde_json::Value;

/// `{"error", "message"}`: a refusal in one sentence.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub message: &'a str,
}

/// A bucket the user may see.
#[derive(Debug, Serialize)]
pub struct Bucket {
    pub name: String,
    pub created: Option<String>,
}

/// `GET /api/buckets`.
#[derive(Debug, Serialize)]
pub struct Buckets {
    pub buckets: Vec<Bucket>,
}

/// One object of a folder level.
#[derive(Debug, Serialize)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<String>,
    pub etag: Option<String>,
}

/// `GET /api/objects`: one page of one folder level.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub prefixes: Vec<String>,
    pub objects: Vec<ObjectEntry>,
    /// Pass back as `token` for the next page; `null` on the last page.
    pub next_token: Option<String>,
}

/// `GET /api/object`.
#[derive(Debug, Serialize)]
pub struct ObjectMeta {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub last_modified: Option<String>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
}

/// `DELETE /api/object`.
#[derive(Debug, Serialize)]
pub struct Deleted {
    pub deleted: u64,
}

/// `POST /api/folder`.
#[derive(Debug, Serialize)]
pub struct FolderCreated {
    pub bucket: String,
    pub prefix: String,
}

/// `POST /api/copy`, `POST /api/move`.
#[derive(Debug, Serialize)]
pub struct CopyResult {
    pub bucket: String,
    pub key: String,
    /// The object's size, when one object was copied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub objects: u64,
}

/// `PUT /api/upload`: a chunk taken, or the upload done.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum UploadProgress {
    /// More chunks to come.
    Taken {
        upload_id: String,
        part: u32,
        received: u64,
    },
    /// The object exists now.
    Done {
        done: bool,
        bucket: String,
        key: String,
        size: u64,
    },
}

impl UploadProgress {
    /// The object `bucket`/`key` exists now, `size` bytes.
    pub fn done(bucket: String, key: String, size: u64) -> Self {
        UploadProgress::Done {
            done: true,
            bucket,
            key,
            size,
        }
    }
}

/// `DELETE /api/upload`.
#[derive(Debug, Serialize)]
pub struct Cancelled {
    pub cancelled: bool,
    pub bucket: String,
    pub key: String,
}

/// `GET /api/preview`: a table, text or neither.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Preview {
    /// CSV, Parquet or JSON as a table (`table` is a data resource).
    Table {
        size: u64,
        rows_shown: u64,
        table: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        parquet: Option<Option<ParquetSummary>>,
    },
    /// The first bytes of a text file.
    Text {
        size: u64,
        text: String,
        truncated: bool,
    },
    /// Neither.
    Binary { size: u64 },
}

/// A Parquet file's footer.
#[derive(Debug, Serialize)]
pub struct ParquetSummary {
    pub rows: u64,
    pub row_groups: u64,
    pub columns: Vec<ParquetColumn>,
}

/// One column's statistics from the footer.
#[derive(Debug, Serialize)]
pub struct ParquetColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nulls: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub compressed_bytes: u64,
}

/// `GET /api/whoami`: who the panel acts as, never a secret.
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    pub user: Option<String>,
    pub endpoint: String,
    pub region: String,
    pub credentials: Option<CredentialsShown>,
    pub problem: Option<String>,
    pub id_token: Option<IdTokenShown>,
}

/// The credentials in use, as a hint.
#[derive(Debug, Serialize)]
pub struct CredentialsShown {
    pub access_key_hint: String,
    pub temporary: bool,
    pub source: String,
    pub renewable: bool,
    pub expiration: Option<String>,
    pub seconds_left: Option<i64>,
}

/// The web identity token file and its expiry.
#[derive(Debug, Serialize)]
pub struct IdTokenShown {
    pub path: String,
    pub expiration: Option<String>,
    pub seconds_left: Option<i64>,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn openapi() -> Value {
        serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json is JSON")
    }

    /// The schema a route answers `status` with, `$ref`s resolved.
    fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
        let schema = &doc["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"];
        assert!(
            !schema.is_null(),
            "openapi.json documents no JSON {status} for {method} {path}"
        );
        resolve(doc, schema)
    }

    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/components/schemas/");
                &doc["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// Where `value` and `schema` disagree: a field sent but not
    /// documented, or documented as required but not sent (in objects,
    /// array items and nested objects).
    fn disagreements(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let schema = resolve(doc, schema);
        let mut found = Vec::new();
        match value {
            Value::Object(fields) => {
                // An object without `properties` is free-form (the preview's
                // data resource).
                if let Some(properties) = schema["properties"].as_object() {
                    for (name, field) in fields {
                        let at = format!("{at}.{name}");
                        match properties.get(name) {
                            None => found.push(format!("{at} is sent but not documented")),
                            Some(inner) => found.extend(disagreements(doc, inner, field, &at)),
                        }
                    }
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap_or_default();
                    if !fields.contains_key(name) {
                        found.push(format!("{at}.{name} is required but not sent"));
                    }
                }
            }
            Value::Array(items) if schema["items"].is_object() => {
                for item in items.iter().take(1) {
                    found.extend(disagreements(
                        doc,
                        &schema["items"],
                        item,
                        &format!("{at}[]"),
                    ));
                }
            }
            _ => {}
        }
        found
    }

    fn check(method: &str, path: &str, status: &str, body: impl Serialize) -> Vec<String> {
        let doc = openapi();
        let value = serde_json::to_value(body).unwrap();
        let schema = response_schema(&doc, method, path, status).clone();
        disagreements(&doc, &schema, &value, &format!("{method} {path} {status}"))
    }

    fn entry() -> ObjectEntry {
        ObjectEntry {
            key: "a/b.csv".into(),
            size: 1,
            last_modified: Some("2026-12-08T00:00:00Z".into()),
            etag: Some("\"e\"".into()),
        }
    }

    fn assert_documented(found: Vec<String>) {
        assert!(
            found.is_empty(),
            "openapi.json and the response types differ:\n{}",
            found.join("\n")
        );
    }

    /// Listing, metadata and the answers of changes, each with its
    /// optional parts present and absent, against the route's schema.
    #[test]
    fn openapi_json_documents_the_browsing_and_change_answers() {
        let mut found = Vec::new();
        let buckets = Buckets {
            buckets: vec![Bucket {
                name: "b".into(),
                created: None,
            }],
        };
        found.extend(check("get", "/api/buckets", "200", buckets));
        for next_token in [None, Some("t".to_string())] {
            let listing = Listing {
                prefixes: vec!["a/".into()],
                objects: vec![entry()],
                next_token,
            };
            found.extend(check("get", "/api/objects", "200", listing));
        }
        let meta = ObjectMeta {
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            last_modified: None,
            etag: None,
            content_type: Some("text/csv".into()),
        };
        found.extend(check("get", "/api/object", "200", meta));
        found.extend(check(
            "delete",
            "/api/object",
            "200",
            Deleted { deleted: 2 },
        ));
        let folder = FolderCreated {
            bucket: "b".into(),
            prefix: "f/".into(),
        };
        found.extend(check("post", "/api/folder", "201", folder));
        for (path, size) in [("/api/copy", Some(3)), ("/api/move", None)] {
            let copied = CopyResult {
                bucket: "b".into(),
                key: "k".into(),
                size,
                objects: 1,
            };
            found.extend(check("post", path, "201", copied));
        }
        let error = ErrorBody {
            error: "not_found",
            message: "m",
        };
        found.extend(check("get", "/api/object", "404", error));
        assert_documented(found);
    }

    #[test]
    fn openapi_json_documents_the_upload_answers() {
        let taken = UploadProgress::Taken {
            upload_id: "u".into(),
            part: 1,
            received: 5,
        };
        let done = UploadProgress::Done {
            done: true,
            bucket: "b".into(),
            key: "k".into(),
            size: 5,
        };
        let cancelled = Cancelled {
            cancelled: true,
            bucket: "b".into(),
            key: "k".into(),
        };
        let mut found = check("put", "/api/upload", "200", taken);
        found.extend(check("put", "/api/upload", "200", done));
        found.extend(check("delete", "/api/upload", "200", cancelled));
        assert_documented(found);
    }

    #[test]
    fn openapi_json_documents_every_preview() {
        let summary = ParquetSummary {
            rows: 1,
            row_groups: 1,
            columns: vec![ParquetColumn {
                name: "c".into(),
                data_type: "Int64".into(),
                nulls: Some(0),
                min: Some("1".into()),
                max: None,
                compressed_bytes: 10,
            }],
        };
        let table = |parquet| Preview::Table {
            size: 1,
            rows_shown: 1,
            table: json!({"schema": {"fields": []}, "data": []}),
            parquet,
        };
        let previews = [
            table(Some(Some(summary))),
            table(Some(None)),
            table(None),
            Preview::Text {
                size: 1,
                text: "x".into(),
                truncated: false,
            },
            Preview::Binary { size: 1 },
        ];
        let found = previews
            .into_iter()
            .flat_map(|preview| check("get", "/api/preview", "200", preview))
            .collect();
        assert_documented(found);
    }

    #[test]
    fn openapi_json_documents_whoami_with_and_without_credentials() {
        let whoami = |full: bool| WhoAmI {
            user: full.then(|| "ana".into()),
            endpoint: "http://s3".into(),
            region: "us-east-1".into(),
            credentials: full.then(|| CredentialsShown {
                access_key_hint: "AK…XY".into(),
                temporary: true,
                source: "web identity".into(),
                renewable: true,
                expiration: Some("2026-12-08T01:00:00Z".into()),
                seconds_left: Some(3600),
            }),
            problem: full.then(|| "p".into()),
            id_token: full.then(|| IdTokenShown {
                path: "/t".into(),
                expiration: None,
                seconds_left: None,
            }),
        };
        let mut found = check("get", "/api/whoami", "200", whoami(true));
        found.extend(check("get", "/api/whoami", "200", whoami(false)));
        assert_documented(found);
    }

    /// The check above finds a field the document does not know.
    #[test]
    fn an_undocumented_field_is_found() {
        let doc = openapi();
        let schema = response_schema(&doc, "delete", "/api/object", "200").clone();
        let found = disagreements(&doc, &schema, &json!({"deleted": 1, "surprise": 2}), "x");
        assert_eq!(found, ["x.surprise is sent but not documented"]);
        let found = disagreements(&doc, &schema, &json!({}), "x");
        assert_eq!(found, ["x.deleted is required but not sent"]);
    }
}
