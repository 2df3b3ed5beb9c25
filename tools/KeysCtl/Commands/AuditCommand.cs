using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>audit</c>: what was done and by whom, newest first.</summary>
public static class AuditCommand
{
    /// <summary>The most events one page may hold.</summary>
    private const int PageSize = 1000;

    /// <summary>How many of the newest events are shown unless --limit or --all says otherwise: the API's own default.</summary>
    public const int DefaultLimit = 100;

    public static Command Build(Cli cli)
    {
        var project = Cli.ProjectOption(required: false);
        project.Description = "one project's events [default: every project's, and the operators' (a token not limited to projects)]";
        var limit = new Option<int?>("--limit", "-n")
        {
            Description = $"at most this many events, the newest [default: {DefaultLimit}]",
            HelpName = "n",
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
                {
                    return n;
                }

                result.AddError($"--limit takes a number of events, 1 or more, not '{text}'");
                return null;
            },
        };
        var all = Cli.Flag("--all", "every event, page after page: the whole log");
        var audit = new Command(
            "audit",
            $"Show the audit log, newest first: the newest {DefaultLimit} events, the newest --limit events, or with --all all of them.")
        {
            project, limit, all,
        };
        Cli.Exclusive(audit, limit, all);
        cli.SetAction(audit, async (context, cancellationToken) =>
        {
            var projectId = context.Get(project);
            var path = projectId is null ? "v1/audit" : $"v1/projects/{KeyAdminApi.Segment(projectId)}/audit";
            using var api = context.Api();
            var listing = await Paging.ReadAllAsync<ListAuditEventsResponse, AuditEvent>(
                api, path, [], PageSize, "events", r => r.Events, r => r.NextPageToken, cancellationToken,
                cap: context.Get(all) ? null : context.Get(limit) ?? DefaultLimit);
            if (context.Out.IsJson)
            {
                context.Out.Json(new JsonObject { ["events"] = listing.Json });
                return;
            }

            // One project's log needs no project column.
            context.Out.Table(
                projectId is null
                    ? ["Time", "Action", "Actor", "Project", "Environment", "Target"]
                    : ["Time", "Action", "Actor", "Environment", "Target"],
                listing.Items.Select(e => (IReadOnlyList<string>)(projectId is null
                    ? [Renderer.Time(e.OccurredAt, seconds: true), e.Action, e.Actor, e.ProjectId, e.Environment, Target(e)]
                    : [Renderer.Time(e.OccurredAt, seconds: true), e.Action, e.Actor, e.Environment, Target(e)])));
        });

        return audit;
    }

    /// <summary>What the event acted on, by name and ID: a key or an operator (nothing more for project events).</summary>
    private static string Target(AuditEvent e) =>
        e.KeyId.Length > 0 ? $"{e.KeyName} ({e.KeyId})"
        : e.OperatorId.Length > 0 ? $"{e.OperatorName} ({e.OperatorId})"
        : string.Empty;
}
