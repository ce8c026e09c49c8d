// WriteApply: the addon's apply step of new unique blocks (native/write-apply.h).
// A host creates one per packed engine and attaches it (engine.shareNativeApply);
// the engine drives it (src/engine/native-apply.ts).

import { native, type NativeWriteApplyHandle } from './addon.js';

export function createWriteApply(): NativeWriteApplyHandle {
  return new (native().WriteApply)();
}
