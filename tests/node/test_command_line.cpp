// QEMU's command line: the same devices on start and restore, the time mode's RTC, icount under TCG only.
#include <algorithm>

#include <gtest/gtest.h>

#include "stasis/node/qemu_backend.hpp"

namespace stasis::node {
namespace {

bool has_pair(const std::vector<std::string> &a, const std::string &opt, const std::string &value)
{
    for (size_t i = 0; i + 1 < a.size(); ++i)
        if (a[i] == opt && a[i + 1] == value)
            return true;
    return false;
}

qemu_config sample()
{
    qemu_config c;
    c.name = "n1";
    c.kernel = "/k";
    c.initrd = "/i";
    c.append = "console=ttyS0";
    c.run_dir = "/run/x";
    c.nics = {{"tap-n1", "52:54:00:00:00:01"}};
    return c;
}

// No -incoming: a QEMU waiting for a migration stays "inmigrate", and a cont there only arms autostart.
TEST(qemu_command_line, restore_is_the_start_stopped)
{
    const auto start = qemu_command_line(sample(), false);
    auto restore = qemu_command_line(sample(), true);
    ASSERT_EQ(restore.size(), start.size() + 1);
    EXPECT_TRUE(std::equal(start.begin(), start.end(), restore.begin()));
    EXPECT_EQ(std::find(restore.begin(), restore.end(), "-incoming"), restore.end());
    EXPECT_NE(std::find(restore.begin(), restore.end(), "-S"), restore.end());
    EXPECT_EQ(std::find(start.begin(), start.end(), "-S"), start.end());
}

TEST(qemu_command_line, frozen_mode_runs_the_rtc_on_the_vm_clock)
{
    auto c = sample();
    EXPECT_TRUE(has_pair(qemu_command_line(c, false), "-rtc", "base=utc,clock=vm"));
    c.mode = time_mode::catch_up;
    EXPECT_TRUE(has_pair(qemu_command_line(c, false), "-rtc", "base=utc,clock=host"));
}

TEST(qemu_command_line, icount_only_under_tcg)
{
    auto c = sample();
    c.icount = "shift=auto,sleep=on";
    EXPECT_TRUE(has_pair(qemu_command_line(c, false), "-icount", "shift=auto,sleep=on"));
    c.accel = "kvm";
    const auto kvm = qemu_command_line(c, false);
    EXPECT_EQ(std::find(kvm.begin(), kvm.end(), "-icount"), kvm.end());
}

TEST(qemu_command_line, sockets_taps_and_agent_port)
{
    const auto a = qemu_command_line(sample(), false);
    EXPECT_TRUE(has_pair(a, "-qmp", "unix:/run/x/qmp.sock,server=on,wait=off"));
    EXPECT_TRUE(has_pair(a, "-netdev", "tap,id=net0,ifname=tap-n1,script=no,downscript=no"));
    EXPECT_TRUE(has_pair(a, "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01"));
    EXPECT_TRUE(has_pair(a, "-device", "virtserialport,bus=vser0.0,chardev=agent,name=stasis.agent"));
    EXPECT_TRUE(has_pair(a, "-chardev", "socket,id=agent,path=/run/x/agent.sock,server=on,wait=off"));
}

TEST(qemu_command_line, the_launcher_comes_first)
{
    auto c = sample();
    c.launcher = {"ip", "netns", "exec", "lab"};
    const auto a = qemu_command_line(c, false);
    ASSERT_GT(a.size(), 5u);
    EXPECT_EQ(std::vector<std::string>(a.begin(), a.begin() + 5),
              (std::vector<std::string>{"ip", "netns", "exec", "lab", "qemu-system-x86_64"}));
}

}  // namespace
}  // namespace stasis::node
