// mpctl website: add, list, set, del — the same core/sites code as the HTTP API.
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "aggregation/aggregator.hpp"
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
namespace {

// Runs `work`; a time zone refused by core/sites is reported under the option's name, not the
// API field's ("--time-zone must be …" rather than "timeZone must be …").
template <typename Work>
auto withTimeZoneOption(Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const InvalidInput& e) {
    const std::string_view field = "timeZone";
    std::string message = e.what();
    if (e.field() != field) throw;
    if (message.compare(0, field.size(), field) == 0)
      message.replace(0, field.size(), "--time-zone");
    throw InvalidInput("--time-zone", message);
  }
}

}  // namespace

void registerWebsiteCommands(CLI::App& app, Context& ctx) {
  auto* website = app.add_subcommand("website", "Manage websites");
  website->require_subcommand(1);

  struct AddOptions {
    std::string owner, name, domain;
    std::string timeZone{sites::kDefaultTimeZone};
  };
  auto add = std::make_shared<AddOptions>();
  auto* addCmd = website->add_subcommand("add", "Register a website for an account");
  addCmd->add_option("--owner", add->owner, "Email of the owning account")->required();
  addCmd->add_option("--name", add->name, "Display name")->required();
  addCmd->add_option("--domain", add->domain, "Domain (normalised: no scheme, port, path or www.)")
      ->required();
  addCmd
      ->add_option("--time-zone", add->timeZone,
                   "IANA time zone in which its stats days are counted, such as Europe/Berlin")
      ->default_str(std::string(sites::kDefaultTimeZone));
  addCmd->callback([&ctx, add] {
    ctx.action = [&ctx, add] {
      auto conn = ctx.connect();
      auto owner = users::findByEmail(conn, add->owner);
      if (!owner) throw NotFound("no account with email " + add->owner);
      auto site = withTimeZoneOption(
          [&] { return sites::create(conn, owner->id, add->name, add->domain, add->timeZone); });
      std::cout << "created website " << site.domain << " (" << site.id << "), time zone "
                << site.timeZone << "\n";
      auto redis = ctx.redis();
      if (!sites::announceWebsiteCreated(redis, site.id)) warnNotAnnounced();
      return exit_code::kOk;
    };
  });

  struct ListOptions {
    std::string owner;
    Format format = Format::kTable;
  };
  auto list = std::make_shared<ListOptions>();
  auto* listCmd = website->add_subcommand("list", "List websites, oldest first");
  listCmd->add_option("--owner", list->owner, "Only the websites of this account");
  addFormatOption(*listCmd, list->format);
  listCmd->callback([&ctx, list] {
    ctx.action = [&ctx, list] {
      auto conn = ctx.connect();
      std::vector<sites::Website> found;
      std::map<std::string, std::string> ownerEmail;
      for (const auto& u : users::list(conn)) ownerEmail[u.id] = u.email;
      if (!list->owner.empty()) {
        auto owner = users::findByEmail(conn, list->owner);
        if (!owner) throw NotFound("no account with email " + list->owner);
        found = sites::listForUser(conn, owner->id);
      } else {
        found = sites::listAll(conn);
      }
      std::vector<std::vector<nlohmann::json>> rows;
      for (const auto& s : found)
        rows.push_back({s.id, s.name, s.domain, s.timeZone, ownerEmail[s.userId], s.createdAt});
      printRows(std::cout, list->format,
                {{"id", "ID"},
                 {"name", "NAME"},
                 {"domain", "DOMAIN"},
                 {"timeZone", "TIME ZONE"},
                 {"owner", "OWNER"},
                 {"createdAt", "CREATED"}},
                rows);
      return exit_code::kOk;
    };
  });

  struct SetOptions {
    std::string id;
    std::optional<std::string> name, timeZone;
  };
  auto set = std::make_shared<SetOptions>();
  auto* setCmd = website->add_subcommand("set", "Change the name or time zone of a website");
  setCmd->add_option("id", set->id, "Website id")->required();
  setCmd->add_option("--name", set->name, "New display name");
  setCmd->add_option("--time-zone", set->timeZone,
                     "New IANA time zone, such as Europe/Berlin (its rollups are recounted)");
  setCmd->callback([&ctx, set] {
    ctx.action = [&ctx, set] {
      if (!set->name && !set->timeZone) {
        throw InvalidInput("--name", "nothing to change: give --name and/or --time-zone");
      }
      auto conn = ctx.connect();
      const auto updated = withTimeZoneOption([&] {
        return sites::update(conn, set->id, {set->name, set->timeZone});
      });
      if (!updated) throw NotFound("no website with id " + set->id);
      const sites::Website& site = updated->website;
      std::cout << "updated website " << site.domain << " (" << site.id << "): name \"" << site.name
                << "\", time zone " << site.timeZone << "\n";
      if (updated->timeZoneChanged) {
        std::cout << "its rollups were deleted: stats read its raw events until they are folded "
                     "again (the schedule folds the last "
                  << aggregation::kRecentDays
                  << " days; for older ones: mpctl aggregate run --website " << site.id
                  << " --from FIRST_DAY)\n";
        auto redis = ctx.redis();
        if (!sites::announceWebsiteChanged(redis, site.id)) warnNotAnnounced();
      }
      return exit_code::kOk;
    };
  });

  struct DelOptions {
    std::string id;
    bool yes = false;
  };
  auto del = std::make_shared<DelOptions>();
  auto* delCmd =
      website->add_subcommand("del", "Delete a website with all its events and summaries");
  delCmd->add_option("id", del->id, "Website id")->required();
  delCmd->add_flag("-y,--yes", del->yes, "Do not ask for confirmation");
  delCmd->callback([&ctx, del] {
    ctx.action = [&ctx, del] {
      auto conn = ctx.connect();
      auto site = sites::findById(conn, del->id);
      if (!site) throw NotFound("no website with id " + del->id);
      if (!del->yes && !confirm("Delete website " + site->domain + " and all its events?")) {
        std::cerr << "mpctl: nothing deleted\n";
        return exit_code::kFailure;
      }
      if (!sites::remove(conn, site->id)) throw NotFound("no website with id " + del->id);
      std::cout << "deleted website " << site->domain << " (" << site->id << ")\n";
      auto redis = ctx.redis();
      if (!sites::announceWebsitesDeleted(redis, {site->id})) warnNotAnnounced();
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
