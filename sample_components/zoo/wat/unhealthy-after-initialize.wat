;; unhealthy-after-initialize (LIFE-005) -- health-check answers err(dependency-error(...)) even
;; after a successful initialize, instead of ok(health-status).
;; result<health-status, processor-error> (size 40, align 8): 0 discriminant; err: 8 case (u8),
;; 12 string ptr, 16 string len.

(data (i32.const 512) "health probe not implemented")

(func $member.health-check (export "obsrvr:flowctl/processor@1.0.0#health-check") (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 1))
  ;; processor-error case 6: dependency-error(string)
  (i32.store8 offset=8 (global.get $RET) (i32.const 6))
  (i32.store offset=12 (global.get $RET) (i32.const 512))
  (i32.store offset=16 (global.get $RET) (i32.const 28))
  (global.get $RET))
