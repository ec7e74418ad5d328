;; spin -- process-event and process-batch never return (`loop br 0`).

(func $spin.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (loop $forever (br $forever))
  unreachable)

(func $spin.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (loop $forever (br $forever))
  unreachable)
