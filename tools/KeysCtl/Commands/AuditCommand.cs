using System.CommandLine;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Output;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>audit</c>: what was done and by whom, newest first.</summary>
public static class AuditCommand
{
    public static Command Build(Cli cli)
    {
        var project = Cli.ProjectOption(required: false);
        project.Description = "one project's events [default: every project's, and the operators' (a token not limited to projects)]";
        var limit = new Option<int?>("--limit", "-n") { Description = "at most this many events [default: 100, at most 1000]", HelpName = "n" };
        var audit = new Command("audit", "Show the audit log, newest first.") { project, limit };
        cli.SetAction(audit, async (context, cancellationToken) =>
        {
            var projectId = context.Get(project);
            var path = projectId is null ? "v1/audit" : $"v1/projects/{KeyAdminApi.Segment(projectId)}/audit";
            if (context.Get(limit) is { } n)
            {
                path += $"?limit={n}";
            }

            using var api = context.Api();
            var reply = await api.GetAsync<ListAuditEventsResponse>(path, cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            // One project's log needs no project column.
            context.Out.Table(
                projectId is null
                    ? ["Time", "Action", "Actor", "Project", "Environment", "Target"]
                    : ["Time", "Action", "Actor", "Environment", "Target"],
                reply.Message.Events.Select(e => (IReadOnlyList<string>)(projectId is null
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
