;; imports-http -- imports http-client.is-url-allowed (and nothing else); process-event calls it
;; with "https://example.com", ignores the answer and returns ok([]).

(import "obsrvr:flowctl/http-client@1.0.0" "is-url-allowed"
  (func $is-url-allowed (param i32 i32) (result i32)))

(data (i32.const 512) "https://example.com")

(func $imports-http.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (drop (call $is-url-allowed (i32.const 512) (i32.const 19)))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
