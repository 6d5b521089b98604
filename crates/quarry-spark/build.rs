//! Generates the Spark Connect gRPC client from the `.proto` files that ship
//! inside Spark's own `spark-connect` jar (copied to `proto/`; see
//! `proto/README.md`). `protox` compiles them in-process, so building Quarry
//! needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["spark/connect/base.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
