// Loss model constants from the configured probabilities.
#include "loss.hpp"

namespace stasis::dataplane::model {

loss_consts compile_loss(const pipe_params &p) noexcept
{
    loss_consts c;
    c.kind = p.loss;
    c.plr = threshold_of(p.plr);
    c.ge_p = threshold_of(p.ge.p);
    c.ge_r = threshold_of(p.ge.r);
    c.ge_loss_good = threshold_of(p.ge.loss_good);
    c.ge_loss_bad = threshold_of(p.ge.loss_bad);
    return c;
}

}  // namespace stasis::dataplane::model
