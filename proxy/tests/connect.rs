//! Connect-time balancing in the real kernel: the eBPF program loaded, attached to the host's
//! cgroup v2 root, and sockets of this process connecting to a made-up ClusterIP.
//!
//! Needs root (as CI has). The "ClusterIP" is an address in 127.0.0.0/8 on a port nobody
//! listens on, so that a connect the program does not rewrite is refused at once by the host
//! itself instead of leaving it; the "endpoints" are listeners on 127.0.0.1. Each test's address
//! is its own, so they run beside each other and beside a running cluster's proxy.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use skiff_proxy::services::connect::{ConnectBalancer, ConnectTable};

fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A made-up ClusterIP:port of this test's own: 127.77.x.y and a port no listener has.
fn cluster_ip(salt: u8) -> (Ipv4Addr, u16) {
    let (free, port) = listener();
    drop(free);
    let pid = std::process::id();
    (Ipv4Addr::new(127, 77, (pid % 250) as u8, salt), port)
}

fn connect(to: (Ipv4Addr, u16)) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&SocketAddr::from(to), Duration::from_secs(2))
}

/// The listener that got the connection: the client's peer address, checked against what the
/// listener accepted.
fn landed(stream: &TcpStream, listeners: &[(&TcpListener, u16)]) -> u16 {
    let peer = stream.peer_addr().unwrap();
    let (listener, port) = listeners.iter().find(|(_, p)| *p == peer.port()).expect("one of the endpoints");
    let (accepted, from) = listener.accept().unwrap();
    assert_eq!(from, stream.local_addr().unwrap(), "the endpoint accepted this very connection");
    drop(accepted);
    *port
}

#[test]
fn a_connect_to_a_cluster_ip_goes_straight_to_an_endpoint_and_follows_the_table() {
    let vip = cluster_ip(1);
    let ((a, a_port), (b, b_port)) = (listener(), listener());
    let endpoints = [(&a, a_port), (&b, b_port)];
    let mut balancer = ConnectBalancer::open().expect("the program loads and attaches (as root)");

    // Not in the table yet: the connect goes where it was addressed, where nothing listens.
    let refused = connect(vip).expect_err("nothing listens on the made-up ClusterIP");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");

    let one = |port| -> ConnectTable { [(vip, vec![(Ipv4Addr::LOCALHOST, port)])].into() };
    balancer.apply(&one(a_port)).unwrap();
    let stream = connect(vip).expect("rewritten to the endpoint");
    assert_eq!(landed(&stream, &endpoints), a_port);

    balancer.apply(&one(b_port)).unwrap();
    for _ in 0..5 {
        assert_eq!(landed(&connect(vip).unwrap(), &endpoints), b_port, "the table changed to the other endpoint");
    }

    // Both: connections spread over the two.
    let both: ConnectTable = [(vip, vec![(Ipv4Addr::LOCALHOST, a_port), (Ipv4Addr::LOCALHOST, b_port)])].into();
    balancer.apply(&both).unwrap();
    let ports: Vec<u16> = (0..40).map(|_| landed(&connect(vip).unwrap(), &endpoints)).collect();
    assert!(ports.contains(&a_port) && ports.contains(&b_port), "40 connections, both endpoints: {ports:?}");

    // Out of the table, and detached with the balancer: back to where it was addressed.
    balancer.apply(&ConnectTable::new()).unwrap();
    assert!(connect(vip).is_err(), "removed from the table");
    balancer.apply(&one(a_port)).unwrap();
    drop(balancer);
    assert!(connect(vip).is_err(), "the program went with the balancer");
}

#[test]
fn udp_and_other_addresses_are_left_alone() {
    let vip = cluster_ip(2);
    let (a, a_port) = listener();
    let mut balancer = ConnectBalancer::open().expect("the program loads and attaches (as root)");
    balancer.apply(&[(vip, vec![(Ipv4Addr::LOCALHOST, a_port)])].into()).unwrap();

    // Another port of the same address, and another address: untouched.
    assert!(connect((vip.0, a_port)).is_err(), "another port of the ClusterIP is not rewritten");
    let direct = connect((Ipv4Addr::LOCALHOST, a_port)).expect("the endpoint itself");
    assert_eq!(direct.peer_addr().unwrap().port(), a_port);
    drop(a.accept().unwrap());

    // A connected UDP socket keeps its address: UDP is iptables' (the program checks TCP).
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(SocketAddr::from(vip)).unwrap();
    assert_eq!(udp.peer_addr().unwrap(), SocketAddr::from(vip));
}
