//! The optimizer-update kernel family at the tensor level, over `cpu::optimizer`: one
//! fused in-place step per parameter, its state buffers updated in the same pass.

use crate::cpu::optimizer as cpu;
use crate::ops::optimizer::UpdateRule;
use crate::{Result, Tensor};

/// Steps the F32 `param` in place by `rule` from `grad`, updating the rule's `state`
/// buffers (as many as it takes, checked by the caller) in the same pass.
pub(crate) fn update(
    param: &Tensor,
    grad: &Tensor,
    state: &[&Tensor],
    rule: UpdateRule,
    op: &'static str,
) -> Result<()> {
    // `update_data` hands out one tensor's elements at a time: the buffers nest.
    let step = |w: &mut [f32], g: &[f32]| -> Result<()> {
        let update = cpu::update;
        match state {
            [] => {
                update(&rule, w, g, &mut []);
                Ok(())
            }
            [a] => a.update_data::<f32>(|a| update(&rule, w, g, &mut [a])),
            [a, b] => {
                let mut inner = Ok(());
                a.update_data::<f32>(|a| {
                    inner = b.update_data::<f32>(|b| update(&rule, w, g, &mut [a, b]));
                })?;
                inner
            }
            _ => unreachable!("at most two buffers, checked by the caller"),
        }
    };
    let mut inner = Ok(());
    grad.with_contiguous::<f32, _>(op, |g| param.update_data::<f32>(|w| inner = step(w, g)))??;
    inner
}
