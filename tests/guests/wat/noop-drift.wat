;; noop-drift -- built against tests/guests/wit/drift (record `event` has an extra field
;; `extra: u32`), so its export type differs from the real interface; a host must refuse it
;; before any call.  process-event is never meant to run.

(func $noop-drift.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  unreachable)
