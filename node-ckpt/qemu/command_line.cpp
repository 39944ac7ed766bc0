// QEMU's command line for a guest: the same on the first start and on every restore (a saved state
// loads only into the same machine and devices); a restore only adds -S (stopped until its state is loaded).
// The result starts with the launcher words, if any.
#include "stasis/node/qemu_backend.hpp"

namespace stasis::node {

std::vector<std::string> qemu_command_line(const qemu_config &c, bool stopped)
{
    std::vector<std::string> a{
        c.qemu_binary, "-name", c.name, "-nodefaults", "-no-user-config", "-machine", "q35",
        "-accel", c.accel, "-m", std::to_string(c.memory_mb), "-smp", std::to_string(c.cpus),
        "-display", "none", "-no-reboot",
        "-qmp", "unix:" + c.qmp_socket() + ",server=on,wait=off",
        "-serial", "file:" + c.console_log(),
        // The guest agent's port (the guest finds it by name) and its host end, a socket we connect to.
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "socket,id=agent,path=" + c.agent_socket() + ",server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent,name=stasis.agent",
    };
    // frozen: the RTC counts the VM's clock, which stops with the VM; catch-up: the host's.
    a.insert(a.end(), {"-rtc", c.mode == time_mode::frozen ? "base=utc,clock=vm" : "base=utc,clock=host"});
    if (!c.icount.empty() && c.accel == "tcg")
        a.insert(a.end(), {"-icount", c.icount});
    if (!c.kernel.empty())
        a.insert(a.end(), {"-kernel", c.kernel});
    if (!c.initrd.empty())
        a.insert(a.end(), {"-initrd", c.initrd});
    if (!c.append.empty())
        a.insert(a.end(), {"-append", c.append});
    for (size_t i = 0; i < c.nics.size(); ++i) {
        const std::string id = "net" + std::to_string(i);
        a.insert(a.end(), {"-netdev", "tap,id=" + id + ",ifname=" + c.nics[i].tap + ",script=no,downscript=no",
                           "-device", "virtio-net-pci,netdev=" + id + ",mac=" + c.nics[i].mac});
    }
    if (!c.disk.empty())
        a.insert(a.end(), {"-drive", "file=" + c.disk + ",if=virtio,format=qcow2,cache=writeback"});
    a.insert(a.end(), c.extra_args.begin(), c.extra_args.end());
    if (stopped)
        a.push_back("-S");
    a.insert(a.begin(), c.launcher.begin(), c.launcher.end());
    return a;
}

const char *to_string(time_mode mode) { return mode == time_mode::frozen ? "frozen" : "catch-up"; }

const char *to_string(guest_state state)
{
    switch (state) {
    case guest_state::absent: return "absent";
    case guest_state::running: return "running";
    case guest_state::frozen: return "frozen";
    case guest_state::released: return "released";
    }
    return "?";
}

}  // namespace stasis::node
