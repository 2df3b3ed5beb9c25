using System.CommandLine;
using System.Text.Json.Nodes;
using Keys.KeysCtl.Output;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>projects list|create</c>.</summary>
public static class ProjectsCommands
{
    public static Command Build(Cli cli)
    {
        var list = new Command("list", "List the projects.");
        cli.SetAction(list, async (context, cancellationToken) =>
        {
            using var api = context.Api();
            var reply = await api.GetAsync<ListProjectsResponse>("v1/projects", cancellationToken);
            if (context.Out.IsJson)
            {
                context.Out.Json(reply.Json);
                return;
            }

            context.Out.Table(["ID", "Name", "Environments", "Created"], reply.Message.Projects.Select(Row));
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

            var project = reply.Message;
            context.Out.Details(
            [
                ("ID", project.Id),
                ("Name", project.Name),
                ("Environments", Renderer.List(project.Environments.Select(e => e.Name))),
                ("Created", Renderer.Time(project.CreatedAt)),
            ]);
        });

        return new Command("projects", "Projects and their environments.") { list, create };
    }

    private static string[] Row(Project project) =>
        [project.Id, project.Name, Renderer.List(project.Environments.Select(e => e.Name)), Renderer.Time(project.CreatedAt)];
}
