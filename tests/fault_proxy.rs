//! A loopback proxy in front of a real docker-registry that injects what a real registry
//! will not produce on demand: a Bearer token flow, 5xx answers, connections dropped
//! in the middle of a blob. Everything else is the registry's own answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "t0ken-for-tests";

/// One injected fault: requests whose method and path match get it, `times` times.
#[derive(Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path_contains: &'static str,
    pub kind: FaultKind,
    pub times: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultKind {
    /// Answer 500 without forwarding.
    ServerError,
    /// Forward, then send the headers and half the body and close.
    DropMidBody,
    /// Forward, then send the headers and half the body and go silent for a minute.
    StallMidBody,
}

#[derive(Default)]
pub struct Log {
    /// "METHOD path" of every request, in order.
    pub requests: Vec<String>,
    pub injected: Vec<(FaultKind, String)>,
    pub tokens_issued: usize,
}

pub struct FaultProxy {
    pub addr: String,
    pub log: Arc<Mutex<Log>>,
}

struct State {
    upstream: String,
    bearer: bool,
    faults: Mutex<Vec<Fault>>,
    log: Arc<Mutex<Log>>,
    addr: String,
}

impl FaultProxy {
    pub fn start(upstream: &str, bearer: bool, faults: Vec<Fault>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Log::default()));
        let state = Arc::new(State {
            upstream: upstream.to_string(),
            bearer,
            faults: Mutex::new(faults),
            log: log.clone(),
            addr: addr.clone(),
        });
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        FaultProxy { addr, log }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("docker://{}/{repo}", self.addr)
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    req.body = vec![0; len];
    reader.read_exact(&mut req.body)?;
    Ok(Some(req))
}

pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    state
        .log
        .lock()
        .unwrap()
        .requests
        .push(format!("{} {}", req.method, req.path));
    if state.bearer {
        if req.path.starts_with("/token") {
            state.log.lock().unwrap().tokens_issued += 1;
            let body = format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#);
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/json".into())],
                body.as_bytes(),
            );
            return Ok(());
        }
        if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            let challenge = format!(
                r#"Bearer realm="http://{}/token",service="fault-proxy",scope="repository:any:pull""#,
                state.addr
            );
            respond(
                &mut stream,
                "401 Unauthorized",
                &[
                    ("WWW-Authenticate", challenge),
                    ("Content-Type", "application/json".into()),
                ],
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            );
            return Ok(());
        }
    }
    let fault = {
        let mut faults = state.faults.lock().unwrap();
        faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == req.method && req.path.contains(f.path_contains))
            .map(|f| {
                f.times -= 1;
                f.kind
            })
    };
    if let Some(kind) = fault {
        state
            .log
            .lock()
            .unwrap()
            .injected
            .push((kind, format!("{} {}", req.method, req.path)));
        if kind == FaultKind::ServerError {
            respond(&mut stream, "500 Internal Server Error", &[], b"injected");
            return Ok(());
        }
    }
    let response = forward(&state.upstream, &req)?;
    if let Some(kind @ (FaultKind::DropMidBody | FaultKind::StallMidBody)) = fault {
        let head_end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |p| p + 4);
        let body_len = response.len() - head_end;
        stream.write_all(&response[..head_end + body_len / 2])?;
        stream.flush()?;
        if kind == FaultKind::StallMidBody {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        return Ok(()); // dropped: the stream closes here
    }
    stream.write_all(&response)
}

/// The request as received (Host kept, so the registry's Location headers point back
/// here), one connection per request, the whole answer read to EOF.
fn forward(upstream: &str, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("authorization") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    Ok(response)
}
