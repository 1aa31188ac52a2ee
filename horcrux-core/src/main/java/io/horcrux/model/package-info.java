/**
 * The values of Horcrux: immutable records and enums, valid by construction.
 * {@link io.horcrux.model.VmSpec} is what a VM should be, {@link io.horcrux.model.Vm} what it is
 * now, {@link io.horcrux.model.VmStatus} its state machine, {@link io.horcrux.model.VmQuery} and
 * {@link io.horcrux.model.Page} how to list many.
 */
package io.horcrux.model;
