//! Many livelogs on one machine, as a worker pool runs them: each started
//! with both ports 0 and `LIVELOG_READY_FILE`, each learning its ports from
//! its file alone, each serving its own log; a graceful stop removes the
//! file.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{SOON, TOKEN, binary, curl, wait_until};

/// Instances started at once.
const INSTANCES: usize = 16;

/// One livelog started as a worker would start it.
struct Instance {
    child: Child,
    ready: std::path::PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, i: usize) -> Instance {
    let ready = dir.join(format!("livelog-{i}.json"));
    let child = Command::new(binary())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ACCESS_TOKEN", TOKEN)
        .env("LIVELOG_PUT_PORT", "0")
        .env("LIVELOG_GET_PORT", "0")
        .env("LIVELOG_READY_FILE", &ready)
        .env("LIVELOG_TEMP_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Instance { child, ready }
}

#[test]
#[cfg_attr(windows, ignore = "sends a Unix signal")]
fn many_instances_with_kernel_chosen_ports_learn_them_from_their_ready_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut instances: Vec<Instance> = (0..INSTANCES).map(|i| start(dir.path(), i)).collect();
    let mut ports = Vec::new();
    for instance in &instances {
        assert!(
            wait_until(SOON, || instance.ready.exists()),
            "{} did not appear",
            instance.ready.display()
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&instance.ready).unwrap()).unwrap();
        // The process id (under wine, the Windows one).
        assert!(doc["pid"].as_u64().is_some_and(|pid| pid > 0), "{doc}");
        ports.push((
            doc["put_port"].as_u64().unwrap(),
            doc["get_port"].as_u64().unwrap(),
        ));
    }
    let mut all: Vec<u64> = ports.iter().flat_map(|(p, g)| [*p, *g]).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 2 * INSTANCES, "every port is its own: {ports:?}");

    // Each serves its own log, found through its file.
    let logs: Vec<String> = (0..INSTANCES)
        .map(|i| format!("log of instance {i}\n"))
        .collect();
    for ((put, _), log) in ports.iter().zip(&logs) {
        let file = dir.path().join(format!("upload-{put}"));
        std::fs::write(&file, log).unwrap();
        let url = format!("http://127.0.0.1:{put}/log");
        let (code, _, err) = curl(&["-sS", "-T", file.to_str().unwrap(), &url]);
        assert_eq!(code, 0, "{err}");
    }
    for ((_, get), log) in ports.iter().zip(&logs) {
        let url = format!("http://127.0.0.1:{get}/log/{TOKEN}");
        assert_eq!(curl(&["-sS", &url]).1, log.as_bytes());
    }

    // A graceful stop removes the file; nothing else is left in the dir
    // but the uploads (the temp files were unlinked at creation).
    for instance in &mut instances {
        let pid = instance.child.id().to_string();
        // SIGINT: a stop request on Unix, and Ctrl-C for the Windows build
        // under wine (which turns SIGTERM into TerminateProcess).
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
    }
    for instance in &mut instances {
        assert!(
            wait_until(Duration::from_secs(15), || instance
                .child
                .try_wait()
                .unwrap()
                .is_some()),
            "did not stop"
        );
        assert!(instance.child.wait().unwrap().success());
        assert!(
            !instance.ready.exists(),
            "{} left behind",
            instance.ready.display()
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("upload-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// docs/fleet-and-proxies.md's own example of starting livelog with
/// kernel-chosen ports:
/// the block runs as written (with `livelog` on `PATH`), and what it prints
/// is where the log is.
#[test]
#[cfg_attr(windows, ignore = "runs a README block with bash")]
fn the_readme_ready_file_example_finds_both_ports() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/fleet-and-proxies.md"
    ))
    .unwrap();
    let block = readme
        .split("```")
        .skip(1)
        .step_by(2)
        .find(|b| b.contains("LIVELOG_READY_FILE=$ready livelog &"))
        .expect("docs/fleet-and-proxies.md's ready-file example")
        .strip_prefix("sh\n")
        .unwrap()
        .to_owned();
    let bin_dir = tempfile::tempdir().unwrap();
    let livelog = bin_dir.path().join("livelog");
    #[cfg(unix)]
    std::os::unix::fs::symlink(binary(), &livelog).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    // The block leaves livelog running: its pid is printed after it.
    // Its output goes to a file, not a pipe: livelog, left running, holds
    // the block's stdout open, and a pipe would not end until it stops.
    let script = format!("{block}\necho \"pid=$!\"\n");
    let said_path = bin_dir.path().join("said");
    let status = Command::new("bash")
        .args(["-ec", &script])
        .env("PATH", &path)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&said_path).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let said = std::fs::read_to_string(&said_path).unwrap();
    let pid = said
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .unwrap()
        .to_owned();
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg(&self.0).status();
        }
    }
    let _kill = Kill(pid);
    assert!(status.success(), "{said}");
    let line = said.lines().find(|l| l.starts_with("upload to ")).unwrap();
    let put = line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(',');
    let get = line
        .rsplit_once("http://<host>:")
        .unwrap()
        .1
        .replace("/log/secretpuppy", "");
    let file = bin_dir.path().join("log");
    std::fs::write(&file, "found by the ready file\n").unwrap();
    let (code, _, err) = curl(&["-fsS", "-m", "30", "-T", file.to_str().unwrap(), put]);
    assert_eq!(code, 0, "{err}");
    let url = format!("http://127.0.0.1:{get}/log/{TOKEN}");
    assert!(wait_until(SOON, || curl(&["-s", "-m", "5", &url]).1
        == b"found by the ready file\n"));
}
