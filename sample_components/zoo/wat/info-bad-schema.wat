;; info-bad-schema (LIFE-001) -- get-info's configuration-schema is not JSON (it is cut short:
;; `{"type": "object",`).

(data (i32.const 512) "{\"type\": \"object\",")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (drop (call $zoo-info))
  (i32.store offset=60 (global.get $INFO) (i32.const 512))
  (i32.store offset=64 (global.get $INFO) (i32.const 18))
  (global.get $INFO))
