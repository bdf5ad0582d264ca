// mpctl goal and mpctl funnel: add, list, del — the same core/goals code as the HTTP API.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "context.hpp"
#include "goals/goals.hpp"
#include "output.hpp"
#include "sites/announce.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"

namespace mp::cli {
namespace {

using json = nlohmann::json;

// An error of core/goals reported under the option's name rather than the API field's
// ("--page must start with /" rather than "pagePath must start with /").
InvalidInput asOption(const InvalidInput& e, const std::string& option) {
  std::string message = e.what();
  if (message.compare(0, e.field().size(), e.field()) == 0) {
    message.replace(0, e.field().size(), option);
  }
  return InvalidInput(option, message);
}

// Running daemons drop the website's cached answers, whose goal reports no longer hold.
void tellDaemons(Context& ctx, const std::string& websiteId) {
  auto redis = ctx.redis();
  if (!sites::announceWebsiteChanged(redis, websiteId)) warnNotAnnounced();
}

std::string describe(const goals::Goal& g) {
  return std::string(g.kind == goals::Kind::kEvent ? "event " : "page ") + g.target;
}

}  // namespace

void registerGoalCommands(CLI::App& app, Context& ctx) {
  auto* goal = app.add_subcommand("goal", "Manage a website's goals");
  goal->require_subcommand(1);

  struct AddOptions {
    std::string website;
    std::optional<std::string> event;
    std::optional<std::string> page;
    std::optional<std::string> name;
  };
  auto add = std::make_shared<AddOptions>();
  auto* addCmd = goal->add_subcommand("add", "Add a goal: a custom event or a page path");
  addCmd->add_option("WEBSITE", add->website, "The website: its id or its domain")->required();
  auto* eventOpt = addCmd->add_option("--event", add->event, "The custom event's name");
  auto* pageOpt =
      addCmd->add_option("--page", add->page, "A page path; * stands for any text (/blog/*)");
  eventOpt->excludes(pageOpt);
  addCmd->add_option("--name", add->name, "Name shown in reports (default: the event or path)");
  addCmd->callback([&ctx, add] {
    ctx.action = [&ctx, add] {
      if (!add->event && !add->page) throw InvalidInput("--event", "give --event or --page");
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, add->website);
      goals::Goal g;
      try {
        g = goals::addGoal(conn, site.id, {add->event, add->page, add->name});
      } catch (const InvalidInput& e) {
        // Reported under the option's name rather than the API field's.
        throw asOption(e, e.field() == "eventName"  ? "--event"
                          : e.field() == "pagePath" ? "--page"
                                                    : "--" + e.field());
      }
      std::cout << "added goal " << g.id << " (" << describe(g) << ") to " << site.domain << "\n";
      tellDaemons(ctx, site.id);
      return exit_code::kOk;
    };
  });

  struct ListOptions {
    std::string website;
    Format format = Format::kTable;
  };
  auto list = std::make_shared<ListOptions>();
  auto* listCmd = goal->add_subcommand("list", "List a website's goals, oldest first");
  listCmd->add_option("WEBSITE", list->website, "The website: its id or its domain")->required();
  addFormatOption(*listCmd, list->format);
  listCmd->callback([&ctx, list] {
    ctx.action = [&ctx, list] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, list->website);
      std::vector<std::vector<json>> rows;
      for (const auto& g : goals::listGoals(conn, site.id)) {
        rows.push_back({g.id, std::string(goals::name(g.kind)), g.target, g.name, g.createdAt});
      }
      printRows(std::cout, list->format,
                {{"id", "ID"},
                 {"type", "TYPE"},
                 {"target", "EVENT/PAGE"},
                 {"name", "NAME"},
                 {"createdAt", "CREATED"}},
                rows);
      return exit_code::kOk;
    };
  });

  struct DelOptions {
    std::string website;
    std::string id;
  };
  auto del = std::make_shared<DelOptions>();
  auto* delCmd = goal->add_subcommand("del", "Delete a goal (not while a funnel uses it)");
  delCmd->add_option("WEBSITE", del->website, "The website: its id or its domain")->required();
  delCmd->add_option("GOAL", del->id, "The goal's id")->required();
  delCmd->callback([&ctx, del] {
    ctx.action = [&ctx, del] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, del->website);
      if (!goals::deleteGoal(conn, site.id, del->id)) {
        throw NotFound("the website has no goal " + del->id);
      }
      std::cout << "deleted goal " << del->id << "\n";
      tellDaemons(ctx, site.id);
      return exit_code::kOk;
    };
  });

  auto* funnel = app.add_subcommand("funnel", "Manage a website's funnels");
  funnel->require_subcommand(1);

  struct FunnelOptions {
    std::string website;
    std::string name;
    std::vector<std::string> steps;
  };
  auto fadd = std::make_shared<FunnelOptions>();
  auto* faddCmd = funnel->add_subcommand("add", "Add a funnel: 2 to 8 goals, in order");
  faddCmd->add_option("WEBSITE", fadd->website, "The website: its id or its domain")->required();
  faddCmd->add_option("--name", fadd->name, "The funnel's name")->required();
  faddCmd->add_option("--step", fadd->steps, "A goal id; repeat in order, 2 to 8 times")
      ->required();
  faddCmd->callback([&ctx, fadd] {
    ctx.action = [&ctx, fadd] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, fadd->website);
      goals::Funnel f;
      try {
        f = goals::addFunnel(conn, site.id, fadd->name, fadd->steps);
      } catch (const InvalidInput& e) {
        throw asOption(e, e.field() == "steps" ? "--step" : "--" + e.field());
      }
      std::cout << "added funnel " << f.id << " (" << f.name << ", " << f.steps.size()
                << " steps) to " << site.domain << "\n";
      return exit_code::kOk;
    };
  });

  auto flist = std::make_shared<ListOptions>();
  auto* flistCmd = funnel->add_subcommand("list", "List a website's funnels, oldest first");
  flistCmd->add_option("WEBSITE", flist->website, "The website: its id or its domain")->required();
  addFormatOption(*flistCmd, flist->format);
  flistCmd->callback([&ctx, flist] {
    ctx.action = [&ctx, flist] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, flist->website);
      const auto funnels = goals::listFunnels(conn, site.id);
      if (flist->format == Format::kJson) {
        json out = json::array();
        for (const auto& f : funnels) out.push_back(goals::toJson(f));
        std::cout << out.dump(2) << "\n";
        return exit_code::kOk;
      }
      std::vector<std::vector<json>> rows;
      for (const auto& f : funnels) {
        std::string steps;
        for (const auto& g : f.steps) steps += (steps.empty() ? "" : " > ") + g.name;
        rows.push_back({f.id, f.name, steps, f.createdAt});
      }
      printRows(std::cout, flist->format,
                {{"id", "ID"}, {"name", "NAME"}, {"steps", "STEPS"}, {"createdAt", "CREATED"}},
                rows);
      return exit_code::kOk;
    };
  });

  auto fdel = std::make_shared<DelOptions>();
  auto* fdelCmd = funnel->add_subcommand("del", "Delete a funnel (its goals stay)");
  fdelCmd->add_option("WEBSITE", fdel->website, "The website: its id or its domain")->required();
  fdelCmd->add_option("FUNNEL", fdel->id, "The funnel's id")->required();
  fdelCmd->callback([&ctx, fdel] {
    ctx.action = [&ctx, fdel] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, fdel->website);
      if (!goals::deleteFunnel(conn, site.id, fdel->id)) {
        throw NotFound("the website has no funnel " + fdel->id);
      }
      std::cout << "deleted funnel " << fdel->id << "\n";
      tellDaemons(ctx, site.id);
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
