//! Registries that misbehave the ways a real one won't on demand (issue 9, §1.2 and
//! §1.9): a blob redirected, or an upload sent, to another origin that asks for
//! credentials; a server that drips its answer a few bytes a second. Loopback only.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::fault_proxy::{read_request, respond, Request};
use crate::util::xx_within;

/// What a scripted server saw: "METHOD path", and the Authorization header if any.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

enum Reply {
    Full {
        status: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// The headers, then the body a byte at a time with a pause between bytes.
    Drip { body: Vec<u8>, pause: Duration },
}

fn reply(status: &'static str, headers: Vec<(&'static str, String)>, body: &[u8]) -> Reply {
    Reply::Full {
        status,
        headers,
        body: body.to_vec(),
    }
}

struct Server {
    addr: String,
    seen: Seen,
}

/// A server on 127.0.0.1 answering every request with `script(request, own address)`.
fn serve(script: impl Fn(&Request, &str) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let (log, own, script) = (seen.clone(), addr.clone(), Arc::new(script));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (log, own, script) = (log.clone(), own.clone(), script.clone());
            std::thread::spawn(move || answer(stream, &own, &log, script.as_ref()));
        }
    });
    Server { addr, seen }
}

fn answer(stream: TcpStream, own: &str, log: &Seen, script: &dyn Fn(&Request, &str) -> Reply) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut stream = stream;
    let Ok(Some(req)) = read_request(&mut reader) else {
        return;
    };
    log.lock().unwrap().push((
        format!("{} {}", req.method, req.path),
        req.header("authorization").map(str::to_string),
    ));
    match script(&req, own) {
        Reply::Full {
            status,
            headers,
            body,
        } => respond(&mut stream, status, &headers, &body),
        Reply::Drip { body, pause } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\r\n",
                body.len()
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            for b in body {
                std::thread::sleep(pause);
                if stream
                    .write_all(&[b])
                    .and_then(|()| stream.flush())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pa55";

fn basic() -> String {
    let pair = format!("{USER}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A docker config holding Basic credentials for `registry`.
fn docker_config(dir: &std::path::Path, registry: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

/// A server on another port that wants a Bearer token from itself: what it would get
/// of the registry's credentials is what leaked.
fn foreign_origin() -> Server {
    serve(|req, own| {
        if req.path.starts_with("/token") {
            return reply("200 OK", vec![], br#"{"token":"foreign"}"#);
        }
        let challenge = format!(r#"Bearer realm="http://{own}/token",service="elsewhere""#);
        reply(
            "401 Unauthorized",
            vec![("WWW-Authenticate", challenge)],
            b"{}",
        )
    })
}

/// The registry: Basic auth required, then a manifest of two blobs whose GETs and
/// uploads point at `elsewhere`.
fn registry(elsewhere: String) -> Server {
    let config = b"{}".to_vec();
    let digest = |b: &[u8]| format!("sha256:{}", crate::registry::sha256_hex(b));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[]}}"#,
        digest(&config)
    );
    serve(move |req, _| {
        if req.header("authorization") != Some(basic().as_str()) {
            return reply(
                "401 Unauthorized",
                vec![("WWW-Authenticate", r#"Basic realm="reg""#.to_string())],
                b"{}",
            );
        }
        let path = req.path.as_str();
        if path.contains("/manifests/") && req.method == "GET" {
            let mt = "application/vnd.oci.image.manifest.v1+json".to_string();
            return reply("200 OK", vec![("Content-Type", mt)], manifest.as_bytes());
        }
        if path.contains("/blobs/uploads/") && req.method == "POST" {
            let location = format!("http://{elsewhere}/upload/1");
            return reply("202 Accepted", vec![("Location", location)], b"");
        }
        if path.contains("/blobs/sha256:") && req.method == "GET" {
            let location = format!("http://{elsewhere}{path}");
            return reply("307 Temporary Redirect", vec![("Location", location)], b"");
        }
        // HEAD of blobs and manifests: not there yet.
        reply("404 Not Found", vec![], b"")
    })
}

fn assert_nothing_reached(foreign: &Server, what: &str) {
    let seen = foreign.seen.lock().unwrap();
    assert!(
        !seen.is_empty(),
        "{what}: the scenario never reached the other origin"
    );
    for (request, authorization) in seen.iter() {
        assert!(
            authorization.is_none(),
            "{what}: {request} carried credentials to another origin: {authorization:?}"
        );
        assert!(
            !request.contains("/token"),
            "{what}: a token was asked of another origin ({request})"
        );
    }
}

/// https://… issue 9 §1.2: a blob GET redirected (307) to another host:port that answers
/// `401 Bearer realm=…` must not draw the registry's Basic credentials to that realm.
#[test]
fn credentials_never_follow_a_redirect_to_another_origin() {
    let foreign = foreign_origin();
    let reg = registry(foreign.addr.clone());
    let work = tempfile::tempdir().unwrap();
    docker_config(work.path(), &reg.addr);
    let out = format!("oci:{}", work.path().join("out").display());
    let config = work.path().to_string_lossy().into_owned();
    let (r, timed_out) = xx_within(
        &["image", "pull", &format!("{}/app:v1", reg.addr), &out],
        &[("DOCKER_CONFIG", &config)],
        Duration::from_secs(60),
    );
    assert!(!timed_out, "pull hung: {}", r.stderr);
    assert_nothing_reached(&foreign, "pull");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("another origin"), "{}", r.stderr);
    assert!(!r.stderr.contains(PASSWORD), "{}", r.stderr);
}

/// The same for a push whose upload Location names another origin.
#[test]
fn credentials_never_go_to_an_upload_location_elsewhere() {
    let foreign = foreign_origin();
    let reg = registry(foreign.addr.clone());
    let work = tempfile::tempdir().unwrap();
    docker_config(work.path(), &reg.addr);
    let layout = format!("oci:{}", work.path().join("l").display());
    crate::image::one_file_image(work.path(), "payload", &layout);
    let config = work.path().to_string_lossy().into_owned();
    let (r, timed_out) = xx_within(
        &["image", "push", &layout, &format!("{}/app:v1", reg.addr)],
        &[("DOCKER_CONFIG", &config)],
        Duration::from_secs(60),
    );
    assert!(!timed_out, "push hung: {}", r.stderr);
    assert_nothing_reached(&foreign, "push");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("another origin"), "{}", r.stderr);
}

/// Issue 9 §1.9: a server sending its answer at a few bytes a second is dropped (and
/// retried) once it is slower than the floor, not waited on for minutes.
#[test]
fn a_dripping_registry_is_given_up_on() {
    let slow = serve(|req, _| {
        if req.path.contains("/manifests/") {
            return Reply::Drip {
                body: vec![b' '; 4000],
                pause: Duration::from_millis(100),
            };
        }
        reply("404 Not Found", vec![], b"")
    });
    let start = Instant::now();
    let (r, timed_out) = xx_within(
        &["image", "inspect", &format!("{}/app:v1", slow.addr)],
        &[("XX_NET_RATE_WINDOW", "1"), ("XX_NET_MIN_RATE", "1024")],
        Duration::from_secs(60),
    );
    assert!(!timed_out, "inspect of a dripping registry hung");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("too slow") && last.contains("failed 5 times"),
        "{}",
        r.stderr
    );
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "{:?}",
        start.elapsed()
    );
}
