//! A real load balancer in front of the replicas: nginx from Debian's package, round robin,
//! configured as the compose profile's (`docker/nginx.conf`), on a loopback port of its own.
//! Each answer names the replica that gave it (`X-Served-By`), so a client can send an
//! order again to a different one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running nginx; dropping it stops it.
pub struct Nginx {
    pub url: String,
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, so the master stops its workers too (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The nginx binary, or a message saying how to get it.
fn binary() -> Result<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .context("the load balancer is nginx, which is not installed: apt-get install nginx")
}

/// The configuration: round robin over `upstreams`, no retry on another replica (an order
/// is the client's to send again), connections to the replicas kept open.
fn config(dir: &Path, port: u16, upstreams: &[String]) -> String {
    let servers: String = upstreams
        .iter()
        .map(|url| {
            let address = url.trim_start_matches("http://");
            format!("        server {address};\n")
        })
        .collect();
    let dir = dir.display();
    format!(
        "daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream orders {{
{servers}        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://orders;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_next_upstream off;
            add_header X-Served-By $upstream_addr always;
        }}
    }}
}}
"
    )
}

/// Starts nginx in `dir` in front of `upstreams` (`http://127.0.0.1:PORT` each) and waits
/// until it listens.
pub fn start(dir: &Path, upstreams: &[String]) -> Result<Nginx> {
    let nginx = binary()?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, port, upstreams))?;
    let log = dir.join("error.log");
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", nginx.display()))?;
    let mut running = Nginx {
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("nginx exited with {status}: {text}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(running);
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("nginx did not listen within 10 s; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_balances_over_every_replica_and_names_the_one_that_answered() {
        let text = config(
            Path::new("/tmp/lb"),
            8000,
            &[
                "http://127.0.0.1:9001".into(),
                "http://127.0.0.1:9002".into(),
            ],
        );
        assert!(text.contains("server 127.0.0.1:9001;\n"), "{text}");
        assert!(text.contains("server 127.0.0.1:9002;\n"), "{text}");
        assert!(text.contains("listen 127.0.0.1:8000;"), "{text}");
        assert!(text.contains("proxy_next_upstream off;"), "{text}");
        assert!(text.contains("X-Served-By $upstream_addr"), "{text}");
    }
}
