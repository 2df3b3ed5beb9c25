using System.Text;

namespace Keys.KeysCtl;

/// <summary>
/// Text from the server (names other operators chose, error messages) is printed to a terminal: control characters
/// in it could move the cursor or rewrite the screen. Line breaks and tabs become one space, anything else <c>?</c>,
/// so that every value stays on its line.
/// </summary>
public static class Sanitize
{
    public static string Line(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var clean = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '\n' or '\r' or '\t')
            {
                if (clean.Length > 0 && clean[^1] != ' ')
                {
                    clean.Append(' ');
                }
            }
            else
            {
                clean.Append(char.IsControl(c) ? '?' : c);
            }
        }

        return clean.ToString();
    }
}
