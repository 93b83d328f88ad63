//! The REPL line editor on arbitrary terminal input: no panic, bounded lines,
//! and the same lines however the input is split into messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::{Edit, LineEditor, MAX_LINE_CHARS};

fn entered(input: &[u8], step: usize) -> Vec<Edit> {
    let mut editor = LineEditor::new();
    let mut out = Vec::new();
    for piece in input.chunks(step.max(1)) {
        out.extend(editor.feed(piece).into_iter().filter(|e| !matches!(e, Edit::Echo(_))));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else { return };
    let whole = entered(input, input.len());
    for edit in &whole {
        if let Edit::Line(line) = edit {
            assert!(line.chars().count() <= MAX_LINE_CHARS);
        }
    }
    assert_eq!(whole, entered(input, usize::from(step % 8) + 1));
});
