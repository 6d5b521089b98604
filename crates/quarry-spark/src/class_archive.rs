//! Starting Spark's JVM faster from the second session on, with Java's
//! class data sharing (CDS).
//!
//! Most of a local `%spark start` is the JVM loading and verifying Spark's
//! classes — tens of thousands of them, from 200+ jars. A CDS archive holds
//! them pre-parsed, memory-mapped at start. Measured on the 2-core machine
//! (Spark 4.3, Java 17): Spark Connect's port opens after 2.3 s with the
//! archive against 3.9 s without.
//!
//! The first session runs with `-XX:DumpLoadedClassList`, which costs
//! nothing measurable; once it stops, a background `java -Xshare:dump`
//! (niced) turns that list into the archive under the user's cache folder,
//! and later sessions map it. A dump that fails leaves a marker so it is not
//! retried for the same Spark and Java; a stale archive (Spark or Java
//! replaced) has a different key and is simply not used. The JVM itself
//! validates an archive against its class path and refuses a mismatch, so
//! the worst an archive can do is not help.

use std::hash::{Hash, Hasher};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where one Spark + Java pair keeps its class list and archive.
#[derive(Debug, Clone)]
pub struct ClassArchive {
    /// `<cache>/quarry/spark-cds/<key>`: the key names the Spark home and the
    /// jars' and Java's modification times.
    stem: PathBuf,
}

impl ClassArchive {
    /// The archive slot for `spark_home` run by `java` (as the launcher will
    /// pick it: `JAVA_HOME/bin/java`, else `java` on `PATH`), under `cache`.
    /// `None` when a part cannot be identified — Spark then starts as usual.
    pub fn locate(cache: &Path, spark_home: &Path, host: &crate::SparkHost) -> Option<Self> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let spark_home = spark_home.canonicalize().ok()?;
        spark_home.hash(&mut hasher);
        modified(&spark_home.join("jars"))?.hash(&mut hasher);
        let java = match &host.java_home {
            Some(home) => home.join("bin/java"),
            None => which(&host.search_path, "java")?,
        };
        let java = java.canonicalize().ok()?;
        java.hash(&mut hasher);
        modified(&java)?.hash(&mut hasher);
        Some(ClassArchive {
            stem: cache
                .join("quarry/spark-cds")
                .join(format!("{:016x}", hasher.finish())),
        })
    }

    pub fn archive(&self) -> PathBuf {
        self.stem.with_extension("jsa")
    }

    /// This kernel's class list: two kernels starting Spark at once must not
    /// write into one file.
    fn class_list(&self) -> PathBuf {
        self.stem
            .with_extension(format!("{}.classes", std::process::id()))
    }

    /// Removes class lists left by kernels that were killed mid-session.
    fn remove_leftover_lists(&self) {
        let (Some(dir), Some(stem)) = (self.stem.parent(), self.stem.file_name()) else {
            return;
        };
        let stem = stem.to_string_lossy();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&*stem) && name.ends_with(".classes") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn failed_marker(&self) -> PathBuf {
        self.stem.with_extension("failed")
    }

    /// JVM options for the next server: map the archive when there is one,
    /// else record the classes loaded so one can be built after this session.
    /// `None` once a dump has failed for this Spark and Java.
    pub fn java_options(&self) -> Option<String> {
        let archive = self.archive();
        if archive.is_file() {
            self.remove_leftover_lists();
            return Some(format!("-XX:SharedArchiveFile={}", archive.display()));
        }
        if self.failed_marker().exists() {
            return None;
        }
        std::fs::create_dir_all(self.stem.parent()?).ok()?;
        Some(format!(
            "-XX:DumpLoadedClassList={}",
            self.class_list().display()
        ))
    }

    /// After a session that recorded its classes (and whose JVM has exited):
    /// builds the archive in the background from the `Spark Command:` line at
    /// the top of the server's log (the exact Java and class path the next
    /// server will use). Returns without waiting; does nothing when there is
    /// nothing to do.
    pub fn build_in_background(&self, log_head: &str) {
        let (archive, list) = (self.archive(), self.class_list());
        if archive.exists() || !list.is_file() {
            return;
        }
        let Some((java, class_path)) = launch_command(log_head) else {
            tracing::info!("no Spark launch command in the log; no class archive this time");
            return;
        };
        let partial = self
            .stem
            .with_extension(format!("{}.jsa.partial", std::process::id()));
        // `sh` renames only after a complete dump, so a killed dump leaves no
        // archive behind; its output explains a failure in the marker file.
        let script = r#"nice -n 19 "$1" -Xshare:dump -XX:SharedClassListFile="$2" -XX:SharedArchiveFile="$3" -cp "$4" > "$5.log" 2>&1 && mv "$3" "$6" || { mv "$5.log" "$5"; rm -f "$3"; }; rm -f "$2" "$5.log""#;
        let spawned = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(&java)
            .arg(&list)
            .arg(&partial)
            .arg(&class_path)
            .arg(self.failed_marker())
            .arg(&archive)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match spawned {
            Ok(mut dump) => {
                tracing::info!(archive = %archive.display(), "building Spark's class archive");
                // Reap it when done, so no zombie lingers beside the kernel.
                std::thread::spawn(move || dump.wait());
            }
            Err(e) => tracing::info!("could not build Spark's class archive: {e}"),
        }
    }
}

/// The Java binary and `-cp` value from spark-class's `Spark Command:` line.
fn launch_command(log: &str) -> Option<(String, String)> {
    let line = crate::upstream::launch_line(log)?;
    let mut words = line.split(' ');
    let java = words.next()?.to_string();
    let class_path = words.skip_while(|w| *w != "-cp").nth(1)?.to_string();
    Some((java, class_path))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn which(search_path: &[PathBuf], program: &str) -> Option<PathBuf> {
    search_path
        .iter()
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_with_java(java_home: &Path) -> crate::SparkHost {
        crate::SparkHost {
            java_home: Some(java_home.to_path_buf()),
            ..crate::SparkHost::default()
        }
    }

    #[test]
    fn the_launch_command_gives_java_and_class_path() {
        let log = "Spark Command: /usr/lib/jvm/java-17/bin/java -cp /s/conf/:/s/jars/* -Xmx1g -XX:DumpLoadedClassList=/c/x.classes org.apache.spark.deploy.SparkSubmit --properties-file p\n========================================\n";
        assert_eq!(
            launch_command(log),
            Some((
                "/usr/lib/jvm/java-17/bin/java".to_string(),
                "/s/conf/:/s/jars/*".to_string()
            ))
        );
        assert_eq!(launch_command("WARNING: something else\n"), None);
    }

    fn fake_spark(root: &Path) -> (PathBuf, PathBuf) {
        let spark = root.join("spark");
        std::fs::create_dir_all(spark.join("jars")).unwrap();
        let java_home = root.join("jdk");
        std::fs::create_dir_all(java_home.join("bin")).unwrap();
        std::fs::write(java_home.join("bin/java"), "").unwrap();
        (spark, java_home)
    }

    #[test]
    fn first_sessions_record_classes_later_ones_map_the_archive() {
        let root = tempfile::tempdir().unwrap();
        let (spark, java_home) = fake_spark(root.path());
        let slot = ClassArchive::locate(
            &root.path().join("cache"),
            &spark,
            &host_with_java(&java_home),
        )
        .expect("identifiable");
        let first = slot.java_options().unwrap();
        assert!(first.starts_with("-XX:DumpLoadedClassList="), "{first}");
        let list = first.trim_start_matches("-XX:DumpLoadedClassList=");
        assert!(
            list.ends_with(&format!(".{}.classes", std::process::id())),
            "{list}"
        );
        std::fs::write(list, "java/lang/Object id: 0\n").unwrap();
        std::fs::write(slot.archive(), b"archive").unwrap();
        let later = slot.java_options().unwrap();
        assert_eq!(
            later,
            format!("-XX:SharedArchiveFile={}", slot.archive().display())
        );
        assert!(
            !Path::new(list).exists(),
            "left-over class lists are removed"
        );
    }

    #[test]
    fn a_failed_dump_is_not_retried_and_new_jars_get_a_new_slot() {
        let root = tempfile::tempdir().unwrap();
        let (spark, java_home) = fake_spark(root.path());
        let cache = root.path().join("cache");
        let slot = ClassArchive::locate(&cache, &spark, &host_with_java(&java_home)).unwrap();
        slot.java_options();
        std::fs::write(slot.failed_marker(), "Error: …").unwrap();
        assert_eq!(slot.java_options(), None);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(spark.join("jars/new.jar"), "").unwrap();
        let upgraded = ClassArchive::locate(&cache, &spark, &host_with_java(&java_home)).unwrap();
        assert_ne!(upgraded.archive(), slot.archive());
        assert!(upgraded.java_options().is_some());
    }
}
