;; initialize-accepts-invalid-config (LIFE-004) -- initialize accepts every JSON object, e.g.
;; `{"unknown": 1}`, which its configuration-schema {"type":"object","additionalProperties":false}
;; forbids, and initializes with it; only text that is not a JSON object (`not json`, `[]`) gets
;; err(configuration-error).  validate-config (the baseline's) stays strict: only `{}`.

(func $member.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  ;; the bug: "is it JSON?" instead of "is it valid under the schema?"
  (if (call $json-object? (local.get $ptr) (local.get $len))
    (then
      (global.set $initialized (i32.const 1))
      (return (call $ret-ok-unit))))
  (call $ret-err (i32.const 5) (i32.const 368) (i32.const 64)))
