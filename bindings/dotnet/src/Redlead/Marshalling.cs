using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Redlead
{
    /// <summary>
    /// The only conversions between .NET values and what crosses the C ABI:
    /// strings as NUL-terminated UTF-8 (by hand: netstandard2.0 has no UTF-8
    /// string marshalling, and Mono's default is not UTF-8 everywhere) and
    /// durations as whole milliseconds. Everything else is validated by the
    /// library itself, which names the parameter in its message.
    /// </summary>
    internal static class Marshalling
    {
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>
        /// <paramref name="value"/> as NUL-terminated UTF-8, or null for null
        /// (passed on as NULL, which the library rejects with a message naming
        /// the parameter). A string the C side would silently cut short (an
        /// embedded NUL) or cannot represent (a lone surrogate) is rejected here,
        /// because the library cannot see it.
        /// </summary>
        internal static byte[] Utf8(string value, string name)
        {
            if (value == null)
            {
                return null;
            }
            if (value.IndexOf('\0') >= 0)
            {
                throw new InvalidArgumentException(name + " must not contain a NUL character");
            }
            byte[] bytes;
            try
            {
                int n = Strict.GetByteCount(value);
                bytes = new byte[n + 1];
                Strict.GetBytes(value, 0, value.Length, bytes, 0);
            }
            catch (EncoderFallbackException e)
            {
                throw new InvalidArgumentException(name + " is not valid Unicode (a lone surrogate): " + e.Message);
            }
            return bytes;
        }

        /// <summary>A NUL-terminated UTF-8 string the library owns, copied; null for NULL.</summary>
        internal static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero)
            {
                return null;
            }
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0)
            {
                n++;
            }
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>The part of <paramref name="buf"/> before its first NUL, decoded.</summary>
        internal static string FromUtf8(byte[] buf)
        {
            int n = Array.IndexOf(buf, (byte)0);
            return Encoding.UTF8.GetString(buf, 0, n < 0 ? buf.Length : n);
        }

        /// <summary>
        /// Whole milliseconds (truncated). A negative duration (including
        /// Timeout.InfiniteTimeSpan) has no uint64 form, so it is rejected here;
        /// zero and upper bounds are the library's to judge.
        /// </summary>
        internal static ulong Millis(TimeSpan value, string name)
        {
            if (value < TimeSpan.Zero)
            {
                throw new InvalidArgumentException(name + " must not be negative (got " + value + ")");
            }
            return (ulong)(value.Ticks / TimeSpan.TicksPerMillisecond);
        }

        internal static uint Count(int value, string name)
        {
            if (value < 0)
            {
                throw new InvalidArgumentException(name + " must not be negative (got " + value + ")");
            }
            return (uint)value;
        }
    }
}
