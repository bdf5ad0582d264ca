// mpctl token issue: an access token for scripts, signed with the daemon's secret.
#include <chrono>
#include <iostream>

#include "auth/jwt.hpp"
#include "config/schema.hpp"
#include "context.hpp"
#include "db/connection.hpp"
#include "users/users.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"

namespace mp::cli {

void registerTokenCommands(CLI::App& app, Context& ctx) {
  auto* token = app.add_subcommand("token", "Issue access tokens");
  token->require_subcommand(1);

  struct IssueOptions {
    std::string email;
    std::string ttl;
  };
  auto issue = std::make_shared<IssueOptions>();
  auto* issueCmd = token->add_subcommand(
      "issue", "Print an access token for an account (for scripts; Authorization: Bearer …)");
  issueCmd->add_option("email", issue->email, "Email of the account")->required();
  issueCmd->add_option("--ttl", issue->ttl, "Lifetime such as 1h or 30d (default auth.token_ttl)");
  issueCmd->callback([&ctx, issue] {
    ctx.action = [&ctx, issue] {
      const auto& cfg = ctx.config();
      std::int64_t ttl = cfg.auth.tokenTtl.count();
      if (!issue->ttl.empty() && (!config::parseDuration(issue->ttl, ttl) || ttl <= 0)) {
        throw InvalidInput("--ttl", "--ttl must be a duration such as 90m, 12h or 30d");
      }
      const std::string secret = auth::loadSecret(cfg.auth.jwtSecretFile);
      auto conn = ctx.connect();
      auto user = users::findByEmail(conn, issue->email);
      if (!user) throw NotFound("no account with email " + issue->email);
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      std::cout << auth::signToken({user->id, now, now + ttl, user->tokenVersion}, secret) << "\n";
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
