use jupyter_protocol::{CodeMirrorMode, HelpLink, KernelInfoReply, LanguageInfo, ReplyStatus};

/// The kernel's self-description; `language_info` is a contract (see `crates/README.md`, "Contracts").
pub(super) fn reply() -> KernelInfoReply {
    let version = env!("CARGO_PKG_VERSION");
    KernelInfoReply {
        status: ReplyStatus::Ok,
        protocol_version: "5.4".into(),
        implementation: "quarry".into(),
        implementation_version: version.into(),
        language_info: LanguageInfo {
            name: "sql".into(),
            version: format!("DataFusion {}", datafusion_version()),
            mimetype: Some("text/x-sql".into()),
            file_extension: Some(".sql".into()),
            pygments_lexer: Some("sql".into()),
            codemirror_mode: Some(CodeMirrorMode::Simple("sql".into())),
            nbconvert_exporter: Some("script".into()),
        },
        banner: format!(
            "Quarry {version}: SQL over S3 with Apache DataFusion {}. Type %help for magics.",
            datafusion_version()
        ),
        help_links: vec![
            HelpLink {
                text: "DataFusion SQL reference".into(),
                url: "https://datafusion.apache.org/user-guide/sql/index.html".into(),
            },
            HelpLink {
                text: "DataFusion functions".into(),
                url: "https://datafusion.apache.org/user-guide/sql/scalar_functions.html".into(),
            },
        ],
        debugger: false,
        error: None,
    }
}

fn datafusion_version() -> &'static str {
    quarry_sql::DATAFUSION_VERSION
}
