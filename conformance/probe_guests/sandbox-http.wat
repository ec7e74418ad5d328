;; sandbox-http.wat -- the sandbox probe guest for http-client (see _sandbox.wat).
;;   r  request(GET <data>, no headers, no body, timeout 5000 ms) -> ok | err:<http-error case>
;;   u  is-url-allowed(<data>) -> yes | no
(module $sandbox-http
(import "obsrvr:flowctl/http-client@1.0.0" "request"
  (func $request (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/http-client@1.0.0" "is-url-allowed"
  (func $is-url-allowed (param i32 i32) (result i32)))

;; @include _sandbox.wat

(data (i32.const 512) "\10\02\00\00\0b\00\00\00")  ;; [ "http-client" ] at 528
(data (i32.const 528) "http-client")

(func $cap-call (param $op i32) (param $arg i32) (param $arg_len i32)
  (param $meta i32) (param $meta_len i32) (param $num i64)
  (if (i32.eq (local.get $op) (i32.const 0x72))  ;; r
    (then
      ;; result<http-response, http-error>: the error case at +4
      (call $request (i32.const 256) (i32.const 3) (local.get $arg) (local.get $arg_len)
        (global.get $EMPTY) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
        (i32.const 5000) (global.get $AREA))
      (call $answer-result (i32.const 4))))
  (if (i32.eq (local.get $op) (i32.const 0x75))  ;; u
    (then (call $answer-bool (call $is-url-allowed (local.get $arg) (local.get $arg_len))))))
)
