using System.CommandLine;
using System.Text.Json.Nodes;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Config;
using Keys.KeysCtl.Output;
using Keys.V1;

namespace Keys.KeysCtl.Commands;

/// <summary><c>login</c>, <c>logout</c>, <c>whoami</c>: the operator token and where it is kept.</summary>
public static class AuthCommands
{
    public static IEnumerable<Command> Build(Cli cli)
    {
        var login = new Command(
            "login",
            "Store an operator token for a KeyAdmin (--url). The token is read from stdin when it is piped, else asked for " +
            "without echo; never from the command line, where shell history and ps would keep it.");
        cli.SetAction(login, LoginAsync);

        var logout = new Command("logout", "Forget the stored token (remove the config file).");
        cli.SetAction(logout, (context, _) =>
        {
            var stored = context.ReadStoredLoginIfAny();
            var removed = context.Config.Delete();
            if (context.Out.IsJson)
            {
                context.Out.Json(new JsonObject { ["removed"] = removed, ["path"] = context.Config.Path });
            }
            else
            {
                context.Out.Line(removed
                    ? $"Logged out of {stored?.Url ?? "KeyAdmin"}: removed {context.Config.Path}"
                    : $"Not logged in: there is no {context.Config.Path}");
            }

            return Task.CompletedTask;
        });

        var whoami = new Command("whoami", "Show who the token belongs to, and what it may do.");
        cli.SetAction(whoami, async (context, cancellationToken) =>
        {
            var target = context.ResolveTarget();
            using var api = context.Api(target.Url, target.RequireToken());
            var reply = await api.GetAsync<Operator>("v1/operators/current", cancellationToken);
            WriteIdentity(context.Out, target.Url, reply);
        });

        return [login, logout, whoami];
    }

    private static async Task LoginAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var url = Target.Resolve(context.UrlOption, context.Console, context.ReadStoredLoginIfAny()).Url;
        var token = await SecretInput.ReadAsync(
            context.Console, $"Operator token for {Target.Normalize(url)}", "token", "keysctl login", cancellationToken);

        // Checked before it is stored: a mistyped token fails here, not on the next command.
        using var api = context.Api(url, token);
        var reply = await api.GetAsync<Operator>("v1/operators/current", cancellationToken);

        context.Config.Write(new StoredLogin(Target.Normalize(url), token));

        if (context.Console.GetVariable(Target.TokenVariable) is not null)
        {
            context.Out.Warning($"{Target.TokenVariable} is set, and commands use it instead of the stored token");
        }

        if (context.Out.IsJson)
        {
            WriteIdentity(context.Out, url, reply);
        }
        else
        {
            context.Out.Line(
                $"Logged in to {Target.Normalize(url)} as {Sanitize.Line(reply.Message.Name)} ({reply.Message.Role}); token stored in {context.Config.Path}");
        }
    }

    /// <summary>The URL and the token's operator.</summary>
    private static void WriteIdentity(Renderer output, Uri url, ApiReply<Operator> reply)
    {
        if (output.IsJson)
        {
            output.Json(new JsonObject { ["url"] = Target.Normalize(url), ["operator"] = reply.Json.DeepClone() });
            return;
        }

        var who = reply.Message;
        output.Details(
        [
            ("URL", Target.Normalize(url)),
            ("ID", who.Id),
            ("Name", who.Name),
            ("Role", who.Role),
            ("Projects", Renderer.List(who.ProjectIds, "all")),
            ("Token", who.MaskedToken),
            ("Expires", Renderer.Time(who.ExpiresAt) is { Length: > 0 } expires ? expires : "never"),
        ]);
    }
}
