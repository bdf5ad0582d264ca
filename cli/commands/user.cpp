// mpctl user: add, list, passwd, set, del — the same core/users code as the HTTP API.
#include <iostream>

#include "context.hpp"
#include "db/connection.hpp"
#include "output.hpp"
#include "prompt.hpp"
#include "sites/announce.hpp"
#include "sites/sites.hpp"
#include "users/users.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"

namespace mp::cli {

void registerUserCommands(CLI::App& app, Context& ctx) {
  auto* user = app.add_subcommand("user", "Manage accounts");
  user->require_subcommand(1);

  struct AddOptions {
    std::string email;
    bool passwordStdin = false;
  };
  auto add = std::make_shared<AddOptions>();
  auto* addCmd =
      user->add_subcommand("add", "Create an account (prompts for the password on a terminal)");
  addCmd->add_option("email", add->email, "Email address of the account")->required();
  addCmd->add_flag("--password-stdin", add->passwordStdin,
                   "Read the password from the first line of stdin");
  addCmd->callback([&ctx, add] {
    ctx.action = [&ctx, add] {
      const std::string email = users::checkEmail(add->email);
      const std::string password = readPassword(add->passwordStdin, true);
      auto conn = ctx.connect();
      auto created = users::create(conn, email, password, ctx.config().auth.bcryptCost);
      std::cout << "created user " << created.email << " (" << created.id << ")\n";
      return exit_code::kOk;
    };
  });

  auto listFormat = std::make_shared<Format>(Format::kTable);
  auto* listCmd = user->add_subcommand("list", "List accounts, oldest first");
  addFormatOption(*listCmd, *listFormat);
  listCmd->callback([&ctx, listFormat] {
    ctx.action = [&ctx, listFormat] {
      auto conn = ctx.connect();
      std::vector<std::vector<nlohmann::json>> rows;
      for (const auto& u : users::list(conn)) {
        rows.push_back({u.id, u.email, u.createdAt, u.reportFrequency});
      }
      printRows(std::cout, *listFormat,
                {{"id", "ID"}, {"email", "EMAIL"}, {"createdAt", "CREATED"}, {"report", "REPORTS"}},
                rows);
      return exit_code::kOk;
    };
  });

  auto passwd = std::make_shared<AddOptions>();
  auto* passwdCmd = user->add_subcommand("passwd", "Set an account's password");
  passwdCmd->add_option("email", passwd->email, "Email address of the account")->required();
  passwdCmd->add_flag("--password-stdin", passwd->passwordStdin,
                      "Read the password from the first line of stdin");
  passwdCmd->callback([&ctx, passwd] {
    ctx.action = [&ctx, passwd] {
      auto conn = ctx.connect();
      if (!users::findByEmail(conn, passwd->email)) {
        throw NotFound("no account with email " + passwd->email);
      }
      const std::string password = readPassword(passwd->passwordStdin, true);
      const std::string id =
          users::setPassword(conn, passwd->email, password, ctx.config().auth.bcryptCost);
      std::cout << "password changed for " << passwd->email << "\n";
      // Its earlier tokens are refused from now on: tell the running daemons.
      auto redis = ctx.redis();
      if (!sites::announceAccountChanged(redis, id)) warnNotAnnounced();
      return exit_code::kOk;
    };
  });

  struct SetOptions {
    std::string email;
    std::string report;
  };
  auto set = std::make_shared<SetOptions>();
  auto* setCmd = user->add_subcommand("set", "Change an account's settings");
  setCmd->add_option("email", set->email, "Email address of the account")->required();
  setCmd
      ->add_option("--report", set->report,
                   "Email reports of its websites: off, daily, weekly or monthly")
      ->required()
      ->check(CLI::IsMember({"off", "daily", "weekly", "monthly"}));
  setCmd->callback([&ctx, set] {
    ctx.action = [&ctx, set] {
      auto conn = ctx.connect();
      const auto found = users::findByEmail(conn, set->email);
      if (!found) throw NotFound("no account with email " + set->email);
      const auto changed = users::setReportFrequency(conn, found->id, set->report);
      std::cout << "email reports of " << changed.email << ": " << changed.reportFrequency << "\n";
      return exit_code::kOk;
    };
  });

  struct DelOptions {
    std::string email;
    bool yes = false;
  };
  auto del = std::make_shared<DelOptions>();
  auto* delCmd =
      user->add_subcommand("del", "Delete an account with its websites and all their data");
  delCmd->add_option("email", del->email, "Email address of the account")->required();
  delCmd->add_flag("-y,--yes", del->yes, "Do not ask for confirmation");
  delCmd->callback([&ctx, del] {
    ctx.action = [&ctx, del] {
      auto conn = ctx.connect();
      auto found = users::findByEmail(conn, del->email);
      if (!found) throw NotFound("no account with email " + del->email);
      const auto sites = sites::listForUser(conn, found->id);
      if (!del->yes &&
          !confirm("Delete " + found->email + " and its " + std::to_string(sites.size()) +
                   " website(s) with all their events?")) {
        std::cerr << "mpctl: nothing deleted\n";
        return exit_code::kFailure;
      }
      const auto removed = users::remove(conn, found->email);
      std::cout << "deleted user " << found->email << " and " << removed.websiteIds.size()
                << " website(s)\n";
      // Its tokens and websites are refused from now on: tell the running daemons.
      auto redis = ctx.redis();
      const bool told = sites::announceAccountChanged(redis, removed.userId);
      if (!sites::announceWebsitesDeleted(redis, removed.websiteIds) || !told) warnNotAnnounced();
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
