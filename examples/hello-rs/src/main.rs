//! A Rust program calling into C, built by `xx build` for every platform.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_ulong};

extern "C" {
    fn xx_machine(buf: *mut c_char, len: c_ulong) -> c_int;
}

fn main() {
    let mut buf = [0 as c_char; 65];
    // SAFETY: buf is writable for its whole length and xx_machine NUL-terminates it.
    let machine = unsafe {
        if xx_machine(buf.as_mut_ptr(), buf.len() as c_ulong) != 0 {
            std::process::exit(1);
        }
        CStr::from_ptr(buf.as_ptr())
    };
    println!("hello-rs on {}", machine.to_string_lossy());
}
