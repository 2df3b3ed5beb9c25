using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using Keys.KeysCtl.Api;
using Keys.KeysCtl.Config;
using Keys.KeysCtl.Output;
using Keys.KeysCtl.Parsing;

namespace Keys.KeysCtl.Commands;

/// <summary>The command tree, its options, and how each command's action runs and fails.</summary>
public sealed class Cli(KeysCtlConsole console)
{
    public const string Name = "keysctl";

    private static readonly string[] Formats = ["table", "json"];

    public KeysCtlConsole Console => console;

    /// <summary><c>--output</c> / <c>-o</c>: on every command.</summary>
    public Option<string> OutputOption { get; } = new("--output", "-o")
    {
        Description = "table (for people) or json (for scripts: the API's JSON, nothing else on stdout)",
        DefaultValueFactory = _ => "table",
        Recursive = true,
        HelpName = "table|json",
    };

    /// <summary><c>--url</c>: which KeyAdmin, on every command.</summary>
    public Option<Uri?> UrlOption { get; } = new("--url")
    {
        Description = $"KeyAdmin's HTTP endpoint [default: {Target.UrlVariable}, else the one logged in to, else {Target.DefaultUrl}]",
        Recursive = true,
        HelpName = "url",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
            var url = Target.TryParseUrl(text);
            if (url is null)
            {
                result.AddError($"--url must be an absolute http or https URL, not '{text}'");
            }

            return url;
        },
    };

    public RootCommand BuildRoot()
    {
        OutputOption.AcceptOnlyFromAmong(Formats);
        var root = new RootCommand("keysctl: projects, API keys, operators and the audit log of a Keys deployment.")
        {
            OutputOption,
            UrlOption,
        };
        foreach (var command in AuthCommands.Build(this).Concat(
            [ProjectsCommands.Build(this), KeysCommands.Build(this), OperatorsCommands.Build(this), AuditCommand.Build(this)]))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>
    /// Sets a command's action: whatever it throws that keysctl knows of is one <c>error:</c> line on stderr (and a
    /// hint), exit 1 unless the failure says otherwise; Ctrl+C is exit 130.
    /// </summary>
    public void SetAction(Command command, Func<CommandContext, CancellationToken, Task> action) =>
        command.SetAction(async (parsed, cancellationToken) =>
        {
            try
            {
                await action(new CommandContext(this, parsed), cancellationToken);
                return ExitCodes.Ok;
            }
            catch (KeysCtlException e)
            {
                await console.Error.WriteLineAsync($"error: {e.Message}");
                if (e.Hint is not null)
                {
                    await console.Error.WriteLineAsync($"hint: {e.Hint}");
                }

                return e.ExitCode;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The config file: a path and what went wrong with it.
                await console.Error.WriteLineAsync($"error: {Sanitize.Line(e.Message)}");
                return ExitCodes.Error;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await console.Error.WriteLineAsync("error: interrupted");
                return ExitCodes.Interrupted;
            }
        });

    public static Option<string> Required(string name, string description, params string[] aliases) =>
        new(name, aliases) { Description = description, Required = true };

    public static Option<string> ProjectOption(bool required = true) =>
        new("--project", "-p") { Description = "the project's ID (prj_…)", Required = required, HelpName = "prj_…" };

    public static Option<string> EnvironmentOption(bool required = true) =>
        new("--env", "-e") { Description = "the environment's name (dev, staging, prod, …)", Required = required, HelpName = "name" };

    /// <summary>An option that is given or not, such as <c>--no-expiry</c>.</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>A list option (<c>--scope a --scope b,c</c>): repeatable, and each value may hold several, comma-separated.</summary>
    public static Option<string[]> List(string name, string description, string helpName) =>
        new(name) { Description = description, HelpName = helpName };

    /// <summary>The values of a list option, its comma-separated values split and trimmed.</summary>
    public static IEnumerable<string> Split(IEnumerable<string> values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Whether the command line names <paramref name="option"/> (a default value does not count).</summary>
    public static bool Given(CommandResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>Options that contradict each other (<c>--expires</c> and <c>--no-expiry</c>): together they are a usage error.</summary>
    public static void Exclusive(Command command, params Option[] options) =>
        command.Validators.Add(result =>
        {
            var given = options.Where(o => Given(result, o)).Select(o => o.Name).ToList();
            if (given.Count > 1)
            {
                result.AddError($"{string.Join(" and ", given)} cannot be used together");
            }
        });

    /// <summary>A command that changes what its options say: with none of them it would send an empty change.</summary>
    public static void AtLeastOne(Command command, IReadOnlyList<Option> options) =>
        command.Validators.Add(result =>
        {
            if (!options.Any(o => Given(result, o)))
            {
                result.AddError($"nothing to change: give at least one of {string.Join(", ", options.Select(o => o.Name))}");
            }
        });

    /// <summary>A list option given only empty values (<c>--scope ""</c>) would clear the list: that takes its clear option.</summary>
    public static void NotEmpty(Command command, Option<string[]> option, string clear) =>
        command.Validators.Add(result =>
        {
            if (Given(result, option) && !Split(result.GetValue(option) ?? []).Any())
            {
                result.AddError($"{option.Name} needs a value; to remove them all, use {clear}");
            }
        });

    /// <summary>A rate limit option (<c>--rate-limit 100/1m</c>, <c>--default-rate-limit 5000/1h,global</c>).</summary>
    public static Option<RateLimitSpec?> RateLimitOption(string name, string description) => new(name)
    {
        Description = $"{description}: {RateLimits.Help}",
        HelpName = "N/window[,global]",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
            if (RateLimits.TryParse(text, out var limit))
            {
                return limit;
            }

            result.AddError($"{name} takes N/window[,global] (100/1m, 5000/1h,global), not '{text}'");
            return null;
        },
    };

    /// <summary><c>--expires</c>: a duration from now or an instant, resolved against the console's clock.</summary>
    public Option<DateTimeOffset?> ExpiresOption(string description) => new("--expires")
    {
        Description = $"{description}: {Durations.Help} [default: never]",
        HelpName = "when",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
            if (Durations.TryParseExpiry(text, console.Clock.GetUtcNow(), out var expiry))
            {
                return expiry;
            }

            result.AddError($"--expires takes {Durations.Help}, not '{text}'");
            return null;
        },
    };
}

/// <summary>What an action needs: its parse result, the output, the stored login and the API client.</summary>
public sealed class CommandContext(Cli cli, ParseResult parsed)
{
    private Renderer? _renderer;

    public KeysCtlConsole Console => cli.Console;

    public Uri? UrlOption => parsed.GetValue(cli.UrlOption);

    public Renderer Out => _renderer ??= new Renderer(
        cli.Console, parsed.GetValue(cli.OutputOption) == "json" ? OutputFormat.Json : OutputFormat.Table);

    public ConfigStore Config { get; } = ConfigStore.For(cli.Console);

    public T? Get<T>(Option<T> option) => parsed.GetValue(option);

    public T Get<T>(Argument<T> argument) => parsed.GetValue(argument)!;

    public string Required(Option<string> option) => parsed.GetRequiredValue(option);

    /// <summary>The KeyAdmin this command talks to and the token for it (none yet: <see cref="Target.RequireToken"/>).</summary>
    public Target ResolveTarget() => Target.Resolve(UrlOption, cli.Console, Config.Read(cli.Console.Error));

    /// <summary>The stored login for commands that replace or remove it: one that cannot be read is as good as none.</summary>
    public StoredLogin? ReadStoredLoginIfAny()
    {
        try
        {
            return Config.Read(TextWriter.Null);
        }
        catch (KeysCtlException)
        {
            return null;
        }
    }

    /// <summary>An API client for the resolved KeyAdmin; fails with a hint to log in when there is no token for it.</summary>
    public KeyAdminApi Api()
    {
        var target = ResolveTarget();
        return Api(target.Url, target.RequireToken());
    }

    public KeyAdminApi Api(Uri url, string token)
    {
        if (url.Scheme == Uri.UriSchemeHttp && !IsLoopback(url))
        {
            Out.Warning($"{Target.Normalize(url)} is plain HTTP: the token crosses the network unencrypted");
        }

        return new KeyAdminApi(url, token, cli.Console.Handler);
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.IdnHost, out var address) && IPAddress.IsLoopback(address));
}
