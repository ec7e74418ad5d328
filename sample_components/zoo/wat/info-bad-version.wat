;; info-bad-version (LIFE-001) -- get-info's version is "1.0", not a semantic version.

(data (i32.const 512) "1.0")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (drop (call $zoo-info))
  (i32.store offset=8 (global.get $INFO) (i32.const 512))
  (i32.store offset=12 (global.get $INFO) (i32.const 3))
  (global.get $INFO))
