//! A bare HTTP/1.1 client for the sign-in flood (the `serve_limits` test and the
//! `webhook_ingest` bench's `--sign-in-flood`): one kept-alive connection from a chosen loopback
//! address (so each looks like its own client to the per-address throttle), and the sign-in form's
//! CSRF token and cookie.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// An answer on a kept-alive connection.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One HTTP/1.1 connection from a chosen loopback address.
pub struct Conn {
    pub reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(server: SocketAddr, from: Ipv4Addr) -> std::io::Result<Conn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let stream = rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((from, 0)))?;
            socket.connect(server).await
        })?;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<Answer> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line)?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no status line: {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The sign-in form's (CSRF token, `paydesk_login=…` cookie), fetched on `conn`.
pub fn login_form(conn: &mut Conn) -> std::io::Result<(String, String)> {
    let page = conn.request("GET", "/login", &[], "")?;
    let cookie = page
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("paydesk_login="))
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_string())
        .ok_or_else(|| std::io::Error::other(format!("no sign-in cookie: {}", page.status)))?;
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .body
        .find(marker)
        .ok_or_else(|| std::io::Error::other("no CSRF field"))?
        + marker.len();
    let csrf = page.body[start..]
        .split('"')
        .next()
        .unwrap_or("")
        .to_string();
    Ok((csrf, cookie))
}

/// One sign-in as an agent of `tenant` on `conn`.
pub fn sign_in(
    conn: &mut Conn,
    (csrf, cookie): (&str, &str),
    tenant: &str,
    email: &str,
    password: &str,
) -> std::io::Result<Answer> {
    let body = form(&[
        ("csrf", csrf),
        ("tenant", tenant),
        ("email", email),
        ("password", password),
        ("role", "agent"),
    ]);
    conn.request(
        "POST",
        "/login",
        &[
            ("Cookie", cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body,
    )
}
