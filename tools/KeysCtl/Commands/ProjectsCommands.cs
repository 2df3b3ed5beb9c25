using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.KeysCtl.Parsing;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>projects list|create|update</c>.</summary>
public static class ProjectsCommands
{
    /// <summary>The most projects one page may hold.</summary>
    private const int PageSize = 500;

    public static Command Build(Cli cli)
    {
        var list = new Command("list", "List the projects: all of them, page after page.");
        cli.SetAction(list, async (context, cancellationToken) =>
        {
            using var api = context.Api();
            var listing = await Paging.ReadAllAsync<ListProjectsResponse, Project>(
                api, "v1/projects", [], PageSize, "projects", r => r.Projects, r => r.NextPageToken, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(new JsonObject { ["projects"] = listing.Json });
                return;
            }

            context.Out.Table(["ID", "Name", "Environments", "Created"], listing.Items.Select(Row));
        });

        var name = Cli.Required("--name", "the project's name");
        var create = new Command("create", "Create a project (with dev, staging and prod environments).") { name };
        cli.SetAction(create, async (context, cancellationToken) =>
        {
            using var api = context.Api();
            var reply = await api.PostAsync<Project>(
                "v1/projects", new JsonObject { ["name"] = context.Required(name) }, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            WriteDetails(context.Out, reply.Message);
        });

        return new Command("projects", "Projects, their environments and their key policies.") { list, create, Update(cli) };
    }

    private static Command Update(Cli cli)
    {
        var projectId = new Argument<string>("project-id") { Description = "the project's ID (prj_…)" };
        var name = new Option<string>("--name") { Description = "a new name", HelpName = "name" };
        var defaultLimit = Cli.RateLimitOption("--default-rate-limit", "the rate limit of every key without one of its own");
        var noDefaultLimit = Cli.Flag("--no-default-rate-limit", "remove the default: keys without a limit of their own are not limited");
        var lifetime = new Option<int?>("--max-secret-lifetime")
        {
            Description = "secret keys must expire within this many days of being created, rolled or updated (existing keys are not changed)",
            HelpName = "days",
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days > 0)
                {
                    return days;
                }

                result.AddError($"--max-secret-lifetime takes a number of days (90, 365), not '{text}'; to remove the policy, use --no-max-secret-lifetime");
                return null;
            },
        };
        var noLifetime = Cli.Flag("--no-max-secret-lifetime", "remove the policy: secret keys may live for ever");
        var update = new Command(
            "update",
            "Change a project's name or key policies: only what the options name is sent and changed. A default rate limit applies to every key without a limit of its own.")
        {
            projectId, name, defaultLimit, noDefaultLimit, lifetime, noLifetime,
        };
        Cli.Exclusive(update, defaultLimit, noDefaultLimit);
        Cli.Exclusive(update, lifetime, noLifetime);
        Cli.AtLeastOne(update, [name, defaultLimit, noDefaultLimit, lifetime, noLifetime]);
        cli.SetAction(update, async (context, cancellationToken) =>
        {
            // The fields present are the ones KeyAdmin changes; null clears one, and 0 days is the contract's "no policy".
            var body = new JsonObject();
            if (context.Get(name) is { } newName)
            {
                body["name"] = newName;
            }

            if (context.Get(defaultLimit) is { } limit)
            {
                body["defaultRateLimit"] = limit.ToJson();
            }
            else if (context.Get(noDefaultLimit))
            {
                body["defaultRateLimit"] = null;
            }

            if (context.Get(lifetime) is { } days)
            {
                body["maxSecretKeyLifetimeDays"] = days;
            }
            else if (context.Get(noLifetime))
            {
                body["maxSecretKeyLifetimeDays"] = 0;
            }

            using var api = context.Api();
            var reply = await api.PatchAsync<Project>(
                $"v1/projects/{KeyAdminApi.Segment(context.Get(projectId))}", body, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            WriteDetails(context.Out, reply.Message);
        });
        return update;
    }

    private static void WriteDetails(Renderer output, Project project) => output.Details(
    [
        ("ID", project.Id),
        ("Name", project.Name),
        ("Environments", Renderer.List(project.Environments.Select(e => e.Name))),
        ("Created", Renderer.Time(project.CreatedAt)),
        ("Default rate limit", project.DefaultRateLimit is null ? "none" : RateLimits.Describe(project.DefaultRateLimit)),
        ("Secret keys expire within", project.MaxSecretKeyLifetimeDays > 0 ? $"{project.MaxSecretKeyLifetimeDays} days" : "no limit"),
    ]);

    private static string[] Row(Project project) =>
        [project.Id, project.Name, Renderer.List(project.Environments.Select(e => e.Name)), Renderer.Time(project.CreatedAt)];
}
