using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Keys.KeysCtl.Output;

/// <summary>
/// Where a command's result goes: stdout, as a table or as JSON. Warnings and notes go to stderr, so that stdout is
/// only the result. Secrets are written here, to stdout, and nowhere else.
/// </summary>
public sealed class Renderer
{
    // The JSON is printed for terminals and jq, not embedded in HTML: "+" and "é" stay as they are.
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly KeysCtlConsole _console;

    private readonly IAnsiConsole _out;

    public Renderer(KeysCtlConsole console, OutputFormat format)
    {
        _console = console;
        Format = format;
        var colour = console.OutputIsTerminal && console.GetVariable("NO_COLOR") is null;
        _out = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(console.Out),
            Ansi = colour ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!console.OutputIsTerminal)
        {
            // In a pipe there is no screen to fit: a row stays on one line, whole, for grep and awk.
            _out.Profile.Width = 4096;
        }
    }

    public OutputFormat Format { get; }

    public bool IsJson => Format == OutputFormat.Json;

    public TimeProvider Clock => _console.Clock;

    public void Json(JsonNode node) => _console.Out.WriteLine(node.ToJsonString(JsonOptions));

    public void Line(string text) => _console.Out.WriteLine(text);

    public void Warning(string text) => _console.Error.WriteLine($"warning: {text}");

    public void Render(IRenderable renderable) => _out.Write(renderable);

    /// <summary>A table of rows, one column per header. Cells are text, never markup: names come from other people.</summary>
    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var table = NewTable();
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header, new Style(decoration: Decoration.Bold))) { NoWrap = true });
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (IRenderable)new Text(Sanitize.Line(cell))).ToArray());
        }

        Write(table);
    }

    /// <summary>One object, a field per line.</summary>
    public void Details(IEnumerable<(string Field, string Value)> fields)
    {
        var table = NewTable();
        table.ShowHeaders = false;
        table.AddColumn(new TableColumn(string.Empty) { NoWrap = true });
        table.AddColumn(new TableColumn(string.Empty));
        foreach (var (field, value) in fields)
        {
            table.AddRow(new Text(field, new Style(decoration: Decoration.Bold)), new Text(Sanitize.Line(value)));
        }

        Write(table);
    }

    /// <summary>
    /// A secret that the API returns once (a secret key's value, an operator token): labelled on stdout, last, on a line
    /// of its own (<c>| tail -n 1</c> takes it), and a warning on stderr that names the secret but never contains it.
    /// </summary>
    public void SecretOnce(string label, string value, string warning)
    {
        _console.Out.WriteLine();
        _console.Out.WriteLine($"{label} (shown once, store it now):");
        _console.Out.WriteLine(value);
        Warning(warning);
    }

    /// <summary>An instant as the tables show it: UTC, to the minute (the audit log's to the second); empty when unset.</summary>
    public static string Time(Timestamp? timestamp, bool seconds = false) => timestamp is null
        ? string.Empty
        : timestamp.ToDateTimeOffset().ToString(seconds ? "yyyy-MM-dd HH:mm:ss'Z'" : "yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);

    /// <summary>A span ahead as people say it, in its largest whole unit: "3 days", "5 hours", "1 minute".</summary>
    public static string Span(TimeSpan span)
    {
        var (count, unit) = span.TotalDays >= 1 ? ((int)span.TotalDays, "day")
            : span.TotalHours >= 1 ? ((int)span.TotalHours, "hour")
            : (Math.Max(1, (int)span.TotalMinutes), "minute");
        return $"{count} {unit}{(count == 1 ? "" : "s")}";
    }

    public static string List(IEnumerable<string> values, string empty = "") =>
        string.Join(", ", values) is { Length: > 0 } joined ? joined : empty;

    private Table NewTable() => new()
    {
        Border = _console.OutputIsTerminal ? TableBorder.Rounded : TableBorder.None,
    };

    /// <summary>
    /// A table squeezed into a narrow terminal breaks IDs and times over several lines, where they can be neither read
    /// nor copied: one wider than the terminal is printed as plain columns instead, each row on one (long) line.
    /// </summary>
    private void Write(Table table)
    {
        if (_console.OutputIsTerminal)
        {
            var options = RenderOptions.Create(_out, _out.Profile.Capabilities);
            if (((IRenderable)table).Measure(options, int.MaxValue).Max > _out.Profile.Width)
            {
                table.Border = TableBorder.None;
                _out.Profile.Width = Math.Max(_out.Profile.Width, ((IRenderable)table).Measure(options, int.MaxValue).Max);
            }
        }

        _out.Write(table);
    }
}
