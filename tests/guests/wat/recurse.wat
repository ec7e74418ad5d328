;; recurse -- process-event recurses without bound (not a tail call: the result is used after
;; the inner call returns), until the engine reports "call stack exhausted".

(func $recurse (param $depth i32) (result i32)
  (i32.add (call $recurse (i32.add (local.get $depth) (i32.const 1))) (i32.const 1)))

(func $recurse.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (drop (call $recurse (i32.const 0)))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
