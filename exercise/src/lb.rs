//! A real load balancer in front of the replicas: nginx from Debian's package, round robin,
//! configured as the compose profile's (`docker/nginx.conf`), on a loopback port of its own.
//! Each answer names the replica that gave it (`X-Served-By`), so a client can send an
//! order again to a different one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::child::{Address, Service, Spec, Stop};

/// A running nginx; dropping it stops it (SIGTERM, so that its master stops its workers).
pub struct Nginx {
    pub url: String,
    service: Service,
}

impl Nginx {
    /// Stops it and waits until it has.
    pub async fn stop(self) -> Result<()> {
        self.service.stop().await
    }
}

/// The nginx binary, or a message saying how to get it.
pub fn binary() -> Result<PathBuf> {
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
/// until it listens. nginx cannot bind port 0 and say where, so it gets a port that was free
/// a moment ago; if another process took it meanwhile, it is tried again on another.
pub async fn start(dir: &Path, upstreams: &[String]) -> Result<Nginx> {
    let nginx = binary()?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let conf = dir.join("nginx.conf");
    let log = dir.join("error.log");
    let mut last = None;
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        std::fs::write(&conf, config(dir, port, upstreams))?;
        let _ = std::fs::remove_file(&log);
        let mut spec = Spec::new(
            "nginx",
            &nginx,
            &dir.join("nginx.out"),
            Address::Given(port),
        )
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(&log);
        spec.stop = Stop::Terminate;
        spec.within = Duration::from_secs(10);
        match Service::start(spec).await {
            Ok(service) => {
                return Ok(Nginx {
                    url: service.url(),
                    service,
                });
            }
            Err(error) => {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                let taken = |text: &str| text.contains("Address already in use");
                if !taken(&said) && !taken(&format!("{error:#}")) {
                    bail!("{error:#}\n{said}");
                }
                last = Some(error);
            }
        }
    }
    Err(last.map_or_else(
        || anyhow::anyhow!("nginx did not start"),
        |e| e.context("nginx found no free port in 5 tries"),
    ))
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
