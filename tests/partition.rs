//! A network partition between two real nodes, cut in the network itself: each node runs
//! in its own network namespace (`ip netns`), reachable by the test over a management veth
//! pair, and the nodes talk to each other over a third veth pair — the link that is taken
//! down. While cut off, both keep working: on processes of their own and on one process
//! where both act in the same state. Once the link is up again they end identical, every
//! event final, with every step of both sides in the chains.
//!
//! Needs root and iproute2; otherwise the test says why it skips.

mod cluster;

use cluster::{fixtures, hashes, Node, NodeSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `ip ARGS` (in namespace `ns` when given); the error says what failed.
fn ip(ns: Option<&str>, args: &[&str]) -> Result<(), String> {
    let mut command = Command::new("ip");
    if let Some(ns) = ns {
        command.args(["netns", "exec", ns, "ip"]);
    }
    let out = command
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces with a management link each to the test and one link between them.
struct Net {
    ns: [String; 2],
    /// The two ends of the link between the nodes (in ns[0], ns[1]).
    link: [String; 2],
}

impl Net {
    fn new() -> Result<Net, String> {
        let tag = std::process::id() % 100_000;
        let net = Net {
            ns: [format!("lfpa{tag}"), format!("lfpb{tag}")],
            link: [format!("lfla{tag}"), format!("lflb{tag}")],
        };
        for ns in &net.ns {
            ip(None, &["netns", "add", ns])?;
        }
        for (i, ns) in net.ns.iter().enumerate() {
            let (outer, inner) = (format!("lfm{i}o{tag}"), format!("lfm{i}i{tag}"));
            ip(
                None,
                &[
                    "link", "add", &outer, "type", "veth", "peer", "name", &inner,
                ],
            )?;
            ip(None, &["link", "set", &inner, "netns", ns])?;
            ip(
                None,
                &["addr", "add", &format!("10.231.{i}.1/24"), "dev", &outer],
            )?;
            ip(None, &["link", "set", &outer, "up"])?;
            ip(
                Some(ns),
                &["addr", "add", &format!("10.231.{i}.2/24"), "dev", &inner],
            )?;
            ip(Some(ns), &["link", "set", &inner, "up"])?;
            ip(Some(ns), &["link", "set", "lo", "up"])?;
        }
        let [a, b] = &net.link;
        ip(None, &["link", "add", a, "type", "veth", "peer", "name", b])?;
        for (i, (end, ns)) in net.link.iter().zip(&net.ns).enumerate() {
            ip(None, &["link", "set", end, "netns", ns])?;
            ip(
                Some(ns),
                &["addr", "add", &format!("10.232.0.{}/24", i + 1), "dev", end],
            )?;
            ip(Some(ns), &["link", "set", end, "up"])?;
        }
        Ok(net)
    }

    /// Takes the link between the nodes down (`false`) or up again (`true`).
    fn set_link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        for (end, ns) in self.link.iter().zip(&self.ns) {
            ip(Some(ns), &["link", "set", end, state]).expect("link");
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it, and with them their peers.
        for ns in &self.ns {
            let _ = ip(None, &["netns", "del", ns]);
        }
    }
}

fn count(process: &Value, action: &str) -> usize {
    process["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == action)
        .count()
}

/// Waits (up to two minutes) until both nodes hold process `id` identically with every
/// event final; returns it.
async fn settled(a: &Node, b: &Node, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, at_a) = a.read_final(id).await;
        let (_, at_b) = b.read_final(id).await;
        let all_final = |p: &Value| {
            p["events"]
                .as_array()
                .is_some_and(|e| e.iter().all(|e| e["final"] == json!(true)))
        };
        if hashes(&at_a) == hashes(&at_b) && all_final(&at_a) && all_final(&at_b) {
            return at_a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "process {id} did not settle: {} and {} events",
            hashes(&at_a).len(),
            hashes(&at_b).len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_heals_into_identical_final_chains() {
    let net = match Net::new() {
        Ok(net) => net,
        Err(reason) => {
            eprintln!("skipped: network namespaces are not available here ({reason})");
            return;
        }
    };
    let root = tempfile::tempdir().expect("temp dir");
    let (spec_a, spec_b) = (
        NodeSpec::new(root.path(), "alpha"),
        NodeSpec::new(root.path(), "beta"),
    );
    let peer_of =
        |spec: &NodeSpec, n: u8| format!("/ip4/10.232.0.{n}/tcp/{}/p2p/{}", spec.p2p, spec.id);
    let a = spec_a
        .start_at(
            Some(&net.ns[0]),
            "10.231.0.2",
            &format!("/ip4/10.232.0.1/tcp/{}", spec_a.p2p),
            &[peer_of(&spec_b, 2)],
        )
        .await;
    let b = spec_b
        .start_at(
            Some(&net.ns[1]),
            "10.231.1.2",
            &format!("/ip4/10.232.0.2/tcp/{}", spec_b.p2p),
            &[peer_of(&spec_a, 1)],
        )
        .await;
    a.wait_connected(&[&b.id]).await;

    let scenario = a.store_scenario(&fixtures().join("race.yaml")).await;
    let (alice, bob) = (a.token("alice").await, b.token("bob").await);
    // `both`: both act in it; `only_a`, `only_b`: one side acts.
    let mut ids = vec![];
    for _ in 0..3 {
        let (id, process) = a
            .start_process(&alice, cluster::race(&scenario, &b.id))
            .await;
        b.wait_for(&id, &hashes(&process)).await;
        settled(&a, &b, &id).await;
        ids.push(id);
    }
    let [both, only_a, only_b] = [&ids[0], &ids[1], &ids[2]];

    net.set_link(false);
    for _ in 0..5 {
        for (node, id, action, token) in [
            (&a, both, "bump_a", &alice),
            (&b, both, "bump_b", &bob),
            (&a, only_a, "bump_a", &alice),
            (&b, only_b, "bump_b", &bob),
        ] {
            assert_eq!(
                node.step(id, action, token, Value::Null).await,
                StatusCode::NO_CONTENT
            );
        }
    }
    // Cut off, each holds only its own side.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_ne!(a.hashes(both).await, b.hashes(both).await);
    assert_eq!(a.hashes(only_b).await.len(), 2);
    assert_eq!(b.hashes(only_a).await.len(), 2);

    net.set_link(true);
    let process = settled(&a, &b, both).await;
    assert_eq!(
        (count(&process, "bump_a"), count(&process, "bump_b")),
        (6, 5)
    );
    assert_eq!(process["vars"], json!({"a": 6, "b": 5}));
    let process = settled(&a, &b, only_a).await;
    assert_eq!(
        (count(&process, "bump_a"), count(&process, "bump_b")),
        (6, 0)
    );
    let process = settled(&a, &b, only_b).await;
    assert_eq!(
        (count(&process, "bump_a"), count(&process, "bump_b")),
        (1, 5)
    );
    drop((a, b));
}
