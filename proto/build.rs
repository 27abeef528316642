//! Compiles the .proto files with protox (a protobuf compiler written in Rust), so that building
//! Skiff needs no `protoc` on the machine. Generated code stays in `OUT_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/etcd/kv.proto", "proto/etcd/rpc.proto", "proto/skiff/api.proto", "proto/skiff/kubelet.proto"];
    let descriptors = protox::compile(files, ["proto"])?;
    // `bytes` fields become `bytes::Bytes`, so that one value fans out to many watchers without
    // copying.
    tonic_prost_build::configure().bytes(".").compile_fds(descriptors)?;
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
