// The names shared by every disk store (disk_store.hpp).
#include "stasis/node/disk_store.hpp"

namespace stasis::node {

const char *to_string(volume_role role)
{
    switch (role) {
    case volume_role::base: return "base";
    case volume_role::live: return "live";
    case volume_role::snapshot: return "snapshot";
    case volume_role::layer: return "layer";
    }
    return "?";
}

bool valid_volume_part(const std::string &part)
{
    if (part.empty() || part.size() > 64)
        return false;
    for (char c : part)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return part[0] != '-';
}

}  // namespace stasis::node
