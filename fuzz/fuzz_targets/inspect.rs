//! The binary-header parser behind xx-verify must never panic or hang on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(facts) = xx::verify::inspect(data) {
        // Whatever parses must also describe itself without panicking.
        let _ = serde_json::to_string(&facts);
    }
});
