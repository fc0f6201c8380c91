//! A kube-rs client of a served world, as the tests that speak Kubernetes make it
//! (plain HTTP on loopback, no credentials: the server checks none).

use kube::{Client, Config};

pub(crate) fn client(served: &runbook_sim_serve::Served) -> Client {
    let url = format!("http://{}", served.addr).parse().expect("a URL");
    Client::try_from(Config::new(url)).expect("a client")
}
