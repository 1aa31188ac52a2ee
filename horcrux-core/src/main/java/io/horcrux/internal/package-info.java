/**
 * Not API: shared by Horcrux's own modules and free to change in any release.
 */
package io.horcrux.internal;
