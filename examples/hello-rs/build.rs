// The C part, compiled for the target by the cc crate (CC_<target> from xx-cargo).
fn main() {
    println!("cargo:rerun-if-changed=src/machine.c");
    cc::Build::new().file("src/machine.c").compile("machine");
}
