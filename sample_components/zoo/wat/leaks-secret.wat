;; leaks-secret (SEC-001) -- declares and imports logging; its configuration-schema marks
;; `api_key` as a secret (`"writeOnly": true`), yet initialize logs the whole config text at level
;; info: "initialized with config: <config text>" -- the api_key value lands in the host's logs.
;; validate-config and initialize accept exactly what the schema allows (a JSON object whose
;; api_key, when present, is a string; with duplicate keys the last one counts, as in Python's
;; json) and answer err(configuration-error) otherwise; initialize logs only a config it accepts.
;; The processor is the baseline.
;; log: level (enum u8: 0 trace, 1 debug, 2 info, 3 warn, 4 error), message (ptr, len).

(import "obsrvr:flowctl/logging@1.0.0" "log" (func $logging.log (param i32 i32 i32)))

(data (i32.const 512) "logging")
(data (i32.const 520) "{\"type\":\"object\",\"properties\":{\"api_key\":{\"type\":\"string\",\"writeOnly\":true}}}")
(data (i32.const 600) "initialized with config: ")
(data (i32.const 632) "config must be a JSON object whose api_key, if given, is a string")
(data (i32.const 704) "api_key")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (drop (call $zoo-info-with-capability (i32.const 512) (i32.const 7)))
  (i32.store offset=60 (global.get $INFO) (i32.const 520))
  (i32.store offset=64 (global.get $INFO) (i32.const 77))
  (global.get $INFO))

;; the value of the 4 hex digits at $p (already checked by $j-string)
(func $hex4 (param $p i32) (result i32)
  (local $i i32) (local $c i32) (local $n i32)
  (loop $next
    (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
    (local.set $n (i32.add (i32.shl (local.get $n) (i32.const 4))
      (if (result i32) (i32.le_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 9))
        (then (i32.sub (local.get $c) (i32.const 0x30)))
        (else (i32.sub (i32.or (local.get $c) (i32.const 0x20)) (i32.const 0x57))))))  ;; 'a' - 10
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br_if $next (i32.lt_u (local.get $i) (i32.const 4))))
  (local.get $n))

;; 1 if the JSON string [$p, $end) (quotes included) decodes to `api_key`; a letter may be
;; spelled \u00XX (no other escape decodes to a character of api_key)
(func $is-api-key? (param $p i32) (param $end i32) (result i32)
  (local $i i32) (local $c i32)
  (local.set $p (i32.add (local.get $p) (i32.const 1)))
  (local.set $end (i32.sub (local.get $end) (i32.const 1)))
  (block $no
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $end))
        (then (return (i32.eq (local.get $i) (i32.const 7)))))
      (br_if $no (i32.ge_u (local.get $i) (i32.const 7)))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x5c))  ;; backslash
        (then
          (br_if $no (i32.ne (i32.load8_u offset=1 (local.get $p)) (i32.const 0x75)))  ;; \u
          (local.set $c (call $hex4 (i32.add (local.get $p) (i32.const 2))))
          (local.set $p (i32.add (local.get $p) (i32.const 6))))
        (else (local.set $p (i32.add (local.get $p) (i32.const 1)))))
      (br_if $no (i32.ne (local.get $c) (i32.load8_u offset=704 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (i32.const 0))

;; 1 if the config is valid under the schema: a JSON object whose last `api_key` member (if
;; any) has a string value
(func $config-ok? (param $ptr i32) (param $len i32) (result i32)
  (local $key i32) (local $key-end i32) (local $string? i32) (local $ok i32)
  (if (i32.eqz (call $json-object? (local.get $ptr) (local.get $len))) (then (return (i32.const 0))))
  ;; walk the top-level members of the (now known to be well-formed) object
  (global.set $jp (local.get $ptr))
  (global.set $je (i32.add (local.get $ptr) (local.get $len)))
  (call $j-skip-ws)
  (drop (call $j-eat (i32.const 0x7b)))
  (call $j-skip-ws)
  (if (call $j-eat (i32.const 0x7d)) (then (return (i32.const 1))))
  (local.set $ok (i32.const 1))
  (loop $member
    (call $j-skip-ws)
    (local.set $key (global.get $jp))
    (drop (call $j-string))
    (local.set $key-end (global.get $jp))
    (call $j-skip-ws)
    (drop (call $j-eat (i32.const 0x3a)))
    (call $j-skip-ws)
    (local.set $string? (i32.eq (call $j-peek) (i32.const 0x22)))
    (drop (call $j-value (i32.const 1)))
    (if (call $is-api-key? (local.get $key) (local.get $key-end))
      (then (local.set $ok (local.get $string?))))
    (br_if $member (call $j-eat (i32.const 0x2c))))
  (local.get $ok))

(func $err-bad-config (result i32)
  (call $ret-err (i32.const 5) (i32.const 632) (i32.const 65)))

(func $member.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  (if (call $config-ok? (local.get $ptr) (local.get $len))
    (then (return (call $ret-ok-unit))))
  (call $err-bad-config))

(func $member.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  (local $msg i32)
  (if (i32.eqz (call $config-ok? (local.get $ptr) (local.get $len)))
    (then (return (call $err-bad-config))))
  ;; the bug: the whole config, secrets included, goes to the log
  (local.set $msg (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 1)
    (i32.add (local.get $len) (i32.const 25))))
  (memory.copy (local.get $msg) (i32.const 600) (i32.const 25))
  (memory.copy (i32.add (local.get $msg) (i32.const 25)) (local.get $ptr) (local.get $len))
  (call $logging.log (i32.const 2) (local.get $msg) (i32.add (local.get $len) (i32.const 25)))
  (global.set $initialized (i32.const 1))
  (call $ret-ok-unit))
